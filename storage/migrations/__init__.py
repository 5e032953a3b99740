"""Numbered schema migrations, ``NNNN_name.sql``, shared by every backend.

The files are written in portable SQL.  Column types that differ between
backends are written as macros that each backend expands (see
``storage._migrations.TYPE_MACROS``): ``{id}``, ``{timestamp}``, ``{bytes}``,
``{json}``.  Never edit a released migration; add the next number instead.
"""
