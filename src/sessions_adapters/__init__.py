"""Framework adapters for the session core.

One module per framework, each importing only its own framework's library.
"""
