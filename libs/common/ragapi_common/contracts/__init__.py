"""Everything services say to each other over NATS: subjects and payload models.

Services never import each other; they share only this package.
"""
