"""The weights of the update decision (monitors.stories.novelty.evidence): a logistic
regression fitted by bench/fit_updates.py on the labelled development cases. Refit with
`python bench/fit_updates.py --write`."""

BIAS = 1.0
WEIGHTS = {f"aside: {why}": -2.0 for why in ("attribution", "background", "history", "aside")}
