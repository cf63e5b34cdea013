"""The dashboard: server-rendered pages (Jinja2), server-side SVG charts, Korean and English."""
