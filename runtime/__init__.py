"""mlc.runtime (to be written)"""
