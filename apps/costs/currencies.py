"""ISO 4217 currency codes and their minor units (how many decimals an amount is rounded to).

Pure Python with no Django import: the settings read DCP_CURRENCY through it at start.
Funds codes and precious metals (XAU, XDR, ...) are left out: nobody is billed in them.
"""

from decimal import ROUND_HALF_UP, Decimal

#: Currencies whose minor unit is not 2 (ISO 4217 "minor unit" column).
_MINOR_UNITS_NOT_2 = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip

_MINOR_UNITS_2 = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL
HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP
MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD
SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS
VES WST XCD YER ZAR ZMW ZWG
"""

MINOR_UNITS: dict[str, int] = dict.fromkeys(_MINOR_UNITS_2.split(), 2) | _MINOR_UNITS_NOT_2


#: The minor unit of each number of decimals.
QUANTA = {places: Decimal(1).scaleb(-places) for places in set(MINOR_UNITS.values())}


def is_currency(code: str) -> bool:
    """Whether code is an ISO 4217 currency code DCP knows (upper case, three letters)."""
    return code in MINOR_UNITS


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round an amount once, at the end, to the currency's minor unit (halves away from zero, as invoices do)."""
    return amount.quantize(QUANTA[MINOR_UNITS[currency]], rounding=ROUND_HALF_UP)
