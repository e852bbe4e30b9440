"""The weights of the update decision (monitors.stories.novelty.evidence): a logistic
regression fitted by bench/fit_updates.py on the labelled development cases
(tests/data/updates less held_fresh4.yaml: 275 facts of 384 cases;
L2 penalty 0.3). Refit with `python bench/fit_updates.py --write`."""

BIAS = 1.0368
WEIGHTS = {
    "condition in headline": -1.5525,
    "condition in lead": 0.6766,
    "condition in lede": 0.6385,
    "first person": 0.1859,
    "fresh": -1.8822,
    "future": -0.0543,
    "hedged": 0.2374,
    "hit": -1.5508,
    "in headline": 0.1606,
    "in lead": 0.6766,
    "in lede": -0.8371,
    "is condition": -0.2374,
    "is number": 0.7574,
    "is party": 0.2786,
    "is status": 0.4130,
    "kinds": 1.2116,
    "length": 3.7858,
    "negated": -0.1519,
    "new rare words": 0.0841,
    "number in headline": 0.4640,
    "number in lead": 0.0000,
    "number in lede": 0.2934,
    "overlap": 0.9881,
    "party in headline": 0.1959,
    "party in lead": 0.0000,
    "party in lede": 0.0826,
    "quoted": 0.2502,
    "sentence overlap": -2.6081,
    "sentence quoted": -1.2804,
    "speaker described": -2.4116,
    "speech": 0.5385,
    "status in headline": -0.4761,
    "status in lead": 0.0000,
    "status in lede": 0.8891,
}
