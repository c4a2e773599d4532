"""nnatlas.train"""
