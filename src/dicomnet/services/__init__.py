"""The service layer: pynetdicom's handler contracts on top of the driver.

This is the first layer that decodes data sets with pydicom. ``contexts`` turns the public
presentation contexts into negotiation inputs and back; ``statuses`` converts between handler
results and DIMSE status fields; ``verification`` is C-ECHO; ``dispatch`` routes each received
request to the service that answers it.
"""
