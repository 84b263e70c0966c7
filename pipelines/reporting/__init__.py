"""The annual activity report, and only it: from the warehouse's figures to
`rapport-<S>-<Y>.xlsx` and `.html`.

`write.py` generates the files (`observatoire report`, and the Dagster asset of
assets/report.py); `figures.py` reads the figures, `build.py` lays them out as
config/report.yaml says, `masking.py` masks small cells, `sentences.py` fills the
sentences, `xlsx.py` and `html.py` (with `svg.py` and `templates/`) write the two formats.
"""
