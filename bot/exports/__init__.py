"""The screening log in the formats a trial's data manager loads: REDCap (data dictionary and
records import CSV) and CDISC ODM 1.3.2 XML. Pure renderers over plain data."""
