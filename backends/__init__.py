"""mlc.backends (to be written)"""
