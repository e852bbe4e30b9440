"""Stories: which articles are one piece of news, and which of them deserve an alert.

Owns near-duplicates (`minhash`: MinHash signatures and LSH bands), the window's articles
held for placement (`index`), same-story evidence and decisions (`similarity`), placement
(`placement`: exact copy, near duplicate, same story (across languages by the articles'
marks) or a new one, every decision kept),
novelty and alert decisions (`novelty`: one alert per rule and story, an update only for
something new) and the unit of work that records an article (`record`). It exposes
`StoryDesk`, `Placement`, `record_article` (`NotACopy`), `alert_stored`, `Recorded` and
`Enqueue`.
Imports the bottom layer, `config`, `store` and `extract` (the text analysis).
"""

from monitors.stories.placement import Placement, StoryDesk
from monitors.stories.record import Enqueue, NotACopy, Recorded, alert_stored, record_article

__all__ = [
    "Enqueue",
    "Placement",
    "NotACopy",
    "Recorded",
    "StoryDesk",
    "alert_stored",
    "record_article",
]
