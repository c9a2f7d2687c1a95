"""Phone numbers: E.164 and the zones a number may be in, corrected where phonenumbers is wrong."""

import pytest

from bot import phones

NY_CHI = ("America/Chicago", "America/New_York")


@pytest.mark.parametrize(
    "number, zones",
    [
        # Split US area codes: a keyed exchange, an unkeyed one and the overlay all get both.
        ("+18504320100", NY_CHI),  # Pensacola (keyed Central)
        ("+18506440100", NY_CHI),  # Tallahassee (keyed Eastern)
        ("+18502000100", NY_CHI),  # an exchange without a key
        ("+14482000100", NY_CHI),  # the 850 overlay
        ("+12198810100", NY_CHI),  # Gary, Indiana
        ("+14232000100", NY_CHI),  # East Tennessee
        ("+19305550100", NY_CHI),  # 812's overlay (Evansville)
        ("+16053420100", ("America/Chicago", "America/Denver")),  # Rapid City, South Dakota
        ("+12085550100", ("America/Boise", "America/Los_Angeles")),
        ("+14155550100", ("America/Los_Angeles",)),  # one zone: unchanged
        ("+12025550143", ("America/New_York",)),
        # Mexico: Chihuahua on UTC-6 with the border strip, Sonora under its own name.
        ("+526141234567", ("America/Chihuahua", "America/Ciudad_Juarez", "America/Ojinaga")),
        ("+526561234567", ("America/Chihuahua", "America/Ciudad_Juarez", "America/Ojinaga")),
        ("+526621234567", ("America/Hermosillo",)),
        ("+528681234567", ("America/Matamoros", "America/Monterrey")),
        ("+526641234567", ("America/Tijuana",)),
        ("+525512345678", ("America/Mexico_City",)),
        # Chile: mobiles anywhere on the mainland, Magallanes landlines on their own clock.
        ("+56987654321", ("America/Coyhaique", "America/Punta_Arenas", "America/Santiago")),
        ("+56612345678", ("America/Punta_Arenas",)),
        ("+573001234567", ("America/Bogota",)),
        ("+51987654321", ("America/Lima",)),
        ("+541151234567", ("America/Argentina/Buenos_Aires",)),
        # Nothing usable: toll-free, nonsense.
        ("+18005550100", ()),
        ("", ()),
    ],
)
def test_time_zones(number, zones):
    assert phones.time_zones(number) == zones


def test_a_single_zone_only_when_the_number_has_one():
    assert phones.time_zone("+14155550100") == "America/Los_Angeles"
    assert phones.time_zone("+18505550100") is None
