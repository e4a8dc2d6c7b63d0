"""Names vulture (`make lint`) cannot see used, each with the reason. Not imported by anything.

vulture reads this file with the package: a name written here counts as used. Add a name only
with a reason a reader can check; dead code is removed, not listed.
"""
# flake8: noqa

_ = object

# gpiozero calls these on its own thread (adapters/buttons.py)
_.when_activated
_.when_deactivated

# gpiozero's Pin calls these hooks of a pin class (adapters/gpiochip.py: pins through libgpiod), and
# PiFactory.pin() makes pins of the factory's pin_class
_.pin_class
_._set_function
_._get_state
_._set_state
_._get_pull
_._set_pull
_._get_bounce
_._set_bounce
_._get_edges
_._set_edges
_._enable_event_detect

# a property setter of gpiozero's PWMOutputDevice: each tone's frequency on the pin (adapters/buzzer.py)
_.frequency

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
_.offer
_.history
_.compact_offer
_.compact_history

# core/session.py belongs to the session-table branch (kept off here): _step_start is written and never
# read, Frame.paused_screen is set there and read by nothing since the renderer stopped using it; both
# go with a change there. table_markdown renders docs/session.md (make session-doc, through its test)
_._step_start
_.paused_screen
_.table_markdown

# OSError's own attribute: a NotRegularFile (adapters/files.py) names its file as every OSError does
_.filename

# The library-split work owns adapters/icons.py and adapters/library/ (kept off here): icon_path is
# used only by tests now that icons are read at load time; ImportedRoutine.stored is a field of the
# import report's record, kept as data
_.icon_path
_.stored

# adapters/partial.py (the partial-updates work, merged from main; kept off here): invalidate() is part of
# its documented driver interface (a full frame next) and is called only by its tests so far
_.invalidate

# What a running device did, kept for diagnosis and read by the tests that prove change detection
# and fault recovery: the panel's and the terminal panel's counters, the App's last frame
_.frames_shown
_.frames_skipped
_.refreshes
_.faults
_.frames_drawn
_.bytes_written
_.last_frame

