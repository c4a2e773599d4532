"""nnatlas.inspect"""
