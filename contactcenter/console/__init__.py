"""The staff console: the operations dashboard, inside the admin.

selectors (the figures, in a fixed number of queries) -> views (dashboard, its live panels) ->
templates/console/; charts draws the SVG charts the dashboard and the campaign pages show.
"""
