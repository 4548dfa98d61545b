"""Server-rendered pages shared by the four services (docs/pages.md)."""
