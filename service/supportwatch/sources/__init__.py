"""Release sources: each turns what a vendor publishes into ``Release`` values.

``base`` holds the ``Source`` protocol and the plausibility check, ``http`` the one polite
fetcher, ``feed``/``helm``/``astro_updates`` the pure parsers, ``static`` the config-declared
releases, and ``wiring`` the explicit map from a config ``kind`` to its constructor.
"""
