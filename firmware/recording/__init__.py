"""From encoded packets to stored segments: pre-roll ring, event windows, MP4 segments."""
