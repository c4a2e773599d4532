"""nnatlas.models"""
