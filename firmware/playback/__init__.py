"""The player path: what is done to footage on its way to a viewer, never to the stored segment."""
