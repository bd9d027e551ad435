"""Recorded and live footage in the forms a browser plays: HLS playlists, fragmented MP4, JPEGs.

Pure functions and generators; the web layer decides who may see what and serves the bytes.
"""
