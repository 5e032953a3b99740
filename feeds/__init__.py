"""Feeds: render stored articles as Atom / RSS 2.0 / JSON Feed (``render``) and serve them."""
