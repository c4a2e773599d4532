"""nnatlas.data"""
