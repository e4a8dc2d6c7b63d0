"""Names vulture (`make lint`) cannot see used, each with the reason. Not imported by anything.

vulture reads this file with the package: a name written here counts as used. Add a name only
with a reason a reader can check; dead code is removed, not listed.
"""
# flake8: noqa

_ = object

# gpiozero calls these on its own thread (adapters/buttons.py)
_.when_activated
_.when_deactivated

# PIL's ImageDraw reads it (render/screens.py: no antialiasing on a 1-bit panel)
_.fontmode

# render/screens.py paints a frame with getattr(self, frame.screen) (and compact_<screen> on 128x32)
_.paused
_.lead_in
_.compact_lead_in
_.compact_switch
_.compact_rest
_.compact_paused
_.compact_idle
_.compact_done
_.compact_error
_.compact_splash

# core/session.py runs an action with getattr(self, "_do_" + action); its internals are being rewritten on
# the session-table branch (it owns session.py): _step_start and Frame.paused_screen (set there, read
# by nothing since the renderer stopped using it) go with that rewrite
_._do_power_menu
_._do_power_off
_._do_start
_._do_next_routine
_._do_resume
_._do_stop
_._do_dismiss
_._do_skip
_._do_back
_._step_start
_.paused_screen

# OSError's own attribute: a NotRegularFile (adapters/files.py) names its file as every OSError does
_.filename

# adapters/library.py is being split into a package on another branch (it owns the file); icon_path
# is used only by tests and goes when icons are resolved at load time; ImportedRoutine.stored is
# part of the import report's record
_.icon_path
_.stored

# What a running device did, kept for diagnosis and read by the tests that prove change detection
# and fault recovery: the panel's and the terminal panel's counters, the App's last frame
_.frames_shown
_.frames_skipped
_.faults
_.frames_drawn
_.bytes_written
_.last_frame
