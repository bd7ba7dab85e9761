"""mlc.passes (to be written)"""
