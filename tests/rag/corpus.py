"""Small documents whose entities and answers the tests know."""

ZORBLAX = (
    "Zorblax Industries builds quantum toasters in Helsinki. "
    "Marvin Quill founded Zorblax Industries in 1999 after leaving Nokia. "
    "The Helsinki factory of Zorblax Industries employs four hundred engineers."
)
FALCON = (
    "The Kelvin Falcon is a paddle steamer on the Danube. "
    "Captain Ilse Brandt has steered the Kelvin Falcon between Vienna and Budapest since 2011."
)
ORCHARD = (
    "Tangerine Orchard is a cooperative of apple growers in Normandy. "
    "The Tangerine Orchard cooperative presses cider every October in Rouen."
)
