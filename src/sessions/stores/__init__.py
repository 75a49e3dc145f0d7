"""Session stores: the protocols, and the implementations that ship."""
