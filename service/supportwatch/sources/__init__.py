"""Release sources: each turns what a vendor publishes into ``Release`` values.

``result`` holds the ``Source`` protocol and what a poll returns (pure values), ``urls`` how a
source URL may be shown, ``http`` the one polite fetcher and ``http_source`` the source built on
it, ``feed``/``helm``/``astro_updates`` the pure parsers, ``static`` the config-declared
releases, ``wiring`` the explicit map from a config ``kind`` to its constructor, and ``poll``
the state machine that records each poll and keeps each source's state.
"""
