"""The on-device routine library and the USB import pipeline, apart.

``store``     the library on the device's storage: atomic versions, manifests, loading (``load_library``)
``importer``  THE import from a folder or a stick (``import_routines``), within limits, refusing what is hostile
``report``    what one import did, in words, and IMPORT-REPORT.txt on the stick
``commands``  ``stretchbox import`` and ``stretchbox routines``

Callers import from the module they need; nothing is re-exported here.
"""
