"""The weights of the update decision (monitors.stories.novelty.evidence): a logistic
regression fitted by bench/fit_updates.py on the labelled development cases
(tests/data/updates less held_fresh4.yaml: 275 facts of 384 cases;
L2 penalty 0.3). Refit with `python bench/fit_updates.py --write`."""

BIAS = 1.0342
WEIGHTS = {
    "condition in headline": -1.5546,
    "condition in lead": 0.6779,
    "condition in lede": 0.6420,
    "first person": 0.1872,
    "fresh": -1.8845,
    "future": -0.0704,
    "hedged": 0.2353,
    "hit": -1.5454,
    "in headline": 0.1600,
    "in lead": 0.6779,
    "in lede": -0.8379,
    "is condition": -0.2347,
    "is number": 0.7576,
    "is party": 0.2812,
    "is status": 0.4113,
    "kinds": 1.2155,
    "length": 3.7788,
    "negated": -0.1477,
    "new rare words": 0.0811,
    "number in headline": 0.4621,
    "number in lead": 0.0000,
    "number in lede": 0.2955,
    "overlap": 0.9894,
    "party in headline": 0.1927,
    "party in lead": 0.0000,
    "party in lede": 0.0885,
    "quoted": 0.2499,
    "sentence overlap": -2.6086,
    "sentence quoted": -1.2789,
    "speaker described": -2.4112,
    "speech": 0.5396,
    "status in headline": -0.4769,
    "status in lead": 0.0000,
    "status in lede": 0.8882,
}
