"""The benchmark report ``docs/results.md`` as data → template (driven by
``benchmarks/make_report.py``, the command line).

| module / file | contents |
|---|---|
| :mod:`.budgets` | sections, methods per scenario, full and ``--quick`` budgets |
| :mod:`.sections` | the measurements of each section (speed, Ren et al., DRLoS, robustness, RLlib): plain rows |
| :mod:`.targets` | issue #16's speed targets measured (``benchmarks/speed_targets.py``, the speed section) |
| ``targets.json`` | those targets: thresholds, units, the numbers before, commands |
| :mod:`.measure` | runs every section in turn, saves CSVs and ``results.json`` |
| :mod:`.plots` | the figures, from the measured rows |
| ``papers.json`` | the papers' reported numbers the report compares against |
| :mod:`.labels` | display names of policies and DNNs (a leaf: no matplotlib) |
| :mod:`.derive` | pure functions: results + papers → the numbers and verdicts the text quotes |
| ``templates/*.md.j2`` | the Markdown of each section (Jinja2), prose included |
| :mod:`.render` | loads results, derivations and figures, renders the templates |

Tables and number formatting come from :mod:`pipeline.tables` (shared with
:mod:`pipeline.report`). The modules import the benchmark scripts (``bench_envs``,
``bench_decisions``, ``atomic_io``...), so ``benchmarks/`` must be on ``sys.path``, as it is
when ``benchmarks/make_report.py`` runs.
"""
