"""nnatlas.lessons"""
