"""The weights of the update decision (monitors.stories.novelty.evidence): a logistic
regression fitted by bench/fit_updates.py on the labelled development cases
(tests/data/updates less held_fresh4.yaml: 300 facts of 426 cases;
L2 penalty 0.3). Refit with `python bench/fit_updates.py --write`."""

BIAS = 1.5680
WEIGHTS = {
    "condition in headline": -1.8296,
    "condition in lead": 0.7361,
    "condition in lede": 0.8823,
    "first person": 0.0413,
    "fresh": -2.0697,
    "future": -0.2501,
    "hedged": 0.2653,
    "hit": -1.6861,
    "in headline": 0.1030,
    "in lead": 0.7361,
    "in lede": -0.8390,
    "is condition": -0.2112,
    "is number": 0.7088,
    "is party": 0.1853,
    "is status": 0.6466,
    "kinds": 1.3294,
    "length": 3.4902,
    "negated": 0.0624,
    "new rare words": -0.0400,
    "number in headline": 0.1519,
    "number in lead": 0.0000,
    "number in lede": 0.5568,
    "overlap": 0.8025,
    "party in headline": 0.1641,
    "party in lead": 0.0000,
    "party in lede": 0.0212,
    "quoted": 0.2364,
    "sentence overlap": -3.2870,
    "sentence quoted": -1.3135,
    "speaker described": -2.2132,
    "speech": 0.6954,
    "status in headline": -0.3222,
    "status in lead": 0.0000,
    "status in lede": 0.9687,
}
