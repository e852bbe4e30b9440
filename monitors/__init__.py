"""newsmon's engine: the pipeline's stages in plain Python (it never imports Prefect).

One package per stage, each importing only from those listed before it:

1. `errors`, `models`, `text`: the exception tree, the values passed between stages,
   words and sentences.
2. `rules`: the watch-rule query language, compiled and matched with an explanation.
3. `config`: the config file (pydantic): the one place each setting's default is stated.
4. `store`: every SQL statement, the schema and its migrations.
5. `ingest`: fetching with its guards, feed parsing, canonical URLs, when a feed is due.
6. `extract`: a page's text in worker processes, and the analysis of that text.
7. `stories`: near-duplicates, same-story placement, novelty and alert decisions.
8. `delivery`: the outbox, rendering for each channel, sending, digests.
9. `backfill`: what a backfill replays and where its pages come from.
10. `pipeline`: the stages run in order (`open_pipeline`, `run_cycle`, `run_backfill`).

docs/architecture.md is the map.
"""
