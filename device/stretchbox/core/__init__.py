"""The pure heart of stretchbox: routine model, session state machine, gestures, frames.

Standard library only; time is always an input. An import-linter contract keeps it so.
"""
