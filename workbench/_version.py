"""The package version, in a module of its own: submodules (the client's User-Agent, the
cache's schema stamp) read it from here, so none of them imports the ``workbench`` package,
whose ``__init__`` names them all (imports point one way)."""

__version__ = "0.1.0"
