"""The static matcher: instant answers for common requests from the table in configs/static/."""

from pipeline.static.schema import Domain, Intent
from pipeline.static.table import StaticTable, default_table_paths

__all__ = ["Domain", "Intent", "StaticTable", "default_table_paths"]
