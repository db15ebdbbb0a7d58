"""Power, required events and design analysis for a binary exposure and a time-to-event outcome.

:mod:`.analytic` has the closed-form Schoenfeld (1983) and Freedman (1982) calculations, each
solving for whichever of events, hazard ratio or power is left out, and the conversion of events
to persons; :mod:`.design_analysis` has Gelman & Carlin's (2014) type S and type M errors.
"""
