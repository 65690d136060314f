"""supportwatch: keeps Astro Remote Execution Agent deployments inside the maintenance policy."""

__version__ = "0.1.0"
