"""The weights of the update decision (monitors.stories.novelty.evidence): a logistic
regression fitted by bench/fit_updates.py on the labelled development cases
(tests/data/updates less held_fresh4.yaml: 300 facts of 426 cases;
L2 penalty 0.3). Refit with `python bench/fit_updates.py --write`."""

BIAS = 0.0260
WEIGHTS = {
    "condition in headline": -1.6531,
    "condition in lead": 0.7356,
    "condition in lede": 0.7936,
    "first person": 0.0007,
    "fresh": -1.7250,
    "future": -0.2629,
    "hedged": 0.4290,
    "hit": -1.5535,
    "in headline": 0.0272,
    "in lead": 0.7356,
    "in lede": -0.7628,
    "is condition": -0.1239,
    "is number": 0.7102,
    "is party": 0.1875,
    "is status": 0.6423,
    "kinds": 1.4161,
    "length": 3.8322,
    "negated": 0.1154,
    "new rare words": 0.0332,
    "number in headline": 0.2389,
    "number in lead": 0.0000,
    "number in lede": 0.4713,
    "overlap": -0.2787,
    "party in headline": 0.1827,
    "party in lead": 0.0000,
    "party in lede": 0.0048,
    "quoted": 0.2823,
    "sentence quoted": -1.3127,
    "speaker described": -2.3076,
    "speech": 0.6378,
    "status in headline": -0.3700,
    "status in lead": 0.0000,
    "status in lede": 1.0123,
}
