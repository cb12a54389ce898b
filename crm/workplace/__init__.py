"""The admin as a workplace: the dashboard that replaces the admin index, and the
timeline on the player page.

Both are built from small registries so that each source of data is one module:

- `registry.panel` registers a dashboard panel (a VIP manager's "my day" or the
  supervisor's team view); `panels/` holds one module per area.
- `aggregates.aggregate` registers a team figure computed by the periodic refresh
  (`refresh_dashboard`, Celery task `crm.tasks.dashboard_refresh_task`) and cached;
  the page reads the cache only and shows the figures' age.
- `timeline.timeline_source` registers one kind of event on the player timeline.
"""
