"""Hand-written reference data: names, venues, issuers, currencies, volatilities."""

from typing import Final

# --------------------------------------------------------------------------------------------
# Reference data (hand-written, small).


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST_NAMES: Final = _words(
    "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony Sandra Mark Ashley Paul "
    "Emily Steven Donna Andrew Michelle Joshua Carol Kevin Amanda Brian Melissa George Deborah Timothy "
    "Stephanie Ronald Rebecca Jason Laura Edward Helen Jeffrey Sharon Ryan Cynthia Jacob Kathleen Gary Amy "
    "Nicholas Angela Eric Shirley Jonathan Anna Larry Ruth Justin Brenda Scott Pamela Frank Nicole Benjamin "
    "Katherine Samuel Samantha Gregory Christine Alexander Emma Patrick Catherine Raymond Debra Jack Rachel "
    "Dennis Carolyn Jerry Janet Tyler Maria Aaron Olivia Jose Heather Adam Diane Nathan Julie Henry Joyce "
    "Zachary Victoria Douglas Kelly Peter Christina Kyle Lauren Noah Joan Ethan Evelyn Jeremy Judith "
    "Hiroshi Yuki Sofia Lukas Amelie Mateo Lucia Liam Chloe Oliver Freya Aarav Priya Wei Mei Omar Fatima "
    "Lars Ingrid Pierre Camille Giulia Marco Sven Astrid Kenji Aiko Rafael Ines Tomasz Zofia Arjun Ananya"
)
_LAST_NAMES: Final = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz "
    "Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson "
    "Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Muller Schmidt "
    "Schneider Fischer Weber Dubois Laurent Moreau Rossi Russo Ferrari Tanaka Suzuki Takahashi Watanabe "
    "Yamamoto Andersson Johansson Nilsson Kowalski Nowak Singh Sharma Chen Wang Zhang Liu Novak Jansen"
)

_NAME_PREFIXES: Final = _words(
    "North South East West Blue Red Green Silver Gold Iron Stone River Lake Ocean Summit Apex Pioneer "
    "Meridian Crescent Harbor Granite Cedar Maple Oak Pine Willow Falcon Eagle Hawk Orion Atlas Vertex "
    "Quantum Nova Stellar Solar Lunar Polar Alpine Coastal Prairie Canyon Crystal Bright Clear Swift Noble "
    "Royal Sterling Liberty Union Frontier Heritage Keystone Beacon Horizon Evergreen Redwood Aspen Sierra"
)
_NAME_STEMS: Final = _words(
    "wind ridge stone field brook gate point bridge view crest wood haven port line works star light "
    "wave peak vale mark forge path core sphere"
)
_SECTORS: Final = (
    "Technologies",
    "Systems",
    "Pharmaceuticals",
    "Biosciences",
    "Energy",
    "Resources",
    "Financial Group",
    "Bancorp",
    "Insurance",
    "Industries",
    "Logistics",
    "Holdings",
    "Semiconductor",
    "Software",
    "Networks",
    "Retail",
    "Foods",
    "Brands",
    "Motors",
    "Aerospace",
    "Materials",
    "Chemicals",
    "Utilities",
    "Properties",
    "Healthcare",
    "Communications",
    "Media",
    "Capital",
    "Mining",
    "Therapeutics",
    "Robotics",
    "Airlines",
)

# (exchange, currency, symbol suffix, legal suffix, weight)
_EQUITY_VENUES: Final = (
    ("NYSE", "USD", "", "Inc.", 30),
    ("NASDAQ", "USD", "", "Inc.", 30),
    ("LSE", "GBP", ".L", "plc", 8),
    ("XETRA", "EUR", ".DE", "AG", 7),
    ("EURONEXT", "EUR", ".PA", "S.A.", 6),
    ("SIX", "CHF", ".SW", "AG", 3),
    ("TSE", "JPY", ".T", "Co., Ltd.", 8),
    ("TSX", "CAD", ".TO", "Corp.", 4),
    ("ASX", "AUD", ".AX", "Ltd.", 4),
)
_ETF_VENUES: Final = (
    ("NYSEARCA", "USD", "", "ETF", 55),
    ("NASDAQ", "USD", "", "ETF", 10),
    ("LSE", "GBP", ".L", "UCITS ETF", 12),
    ("XETRA", "EUR", ".DE", "UCITS ETF", 10),
    ("SIX", "CHF", ".SW", "UCITS ETF", 3),
    ("TSE", "JPY", ".T", "ETF", 4),
    ("TSX", "CAD", ".TO", "ETF", 3),
    ("ASX", "AUD", ".AX", "ETF", 3),
)
_ETF_ISSUERS: Final = (
    "Vantage",
    "Ishara",
    "Stateline",
    "Harbor Point",
    "Bluewater",
    "Summit Street",
    "Keystone",
    "Northstar",
    "Granite Shares",
    "Invesco Ridge",
    "First Meridian",
    "Global Atlas",
)
_ETF_REGIONS: Final = (
    "US",
    "World",
    "Europe",
    "Emerging Markets",
    "Japan",
    "Asia Pacific",
    "Developed Markets",
    "Global",
    "UK",
    "Canada",
    "Australia",
    "Eurozone",
    "China",
    "India",
)
_ETF_THEMES: Final = (
    "Total Market",
    "Large-Cap",
    "Mid-Cap",
    "Small-Cap Value",
    "Dividend Growth",
    "Quality Factor",
    "Momentum",
    "Low Volatility",
    "Clean Energy",
    "Semiconductors",
    "Healthcare Innovation",
    "Cybersecurity",
    "Aggregate Bond",
    "Short Treasury",
    "Inflation-Linked Bond",
    "High Yield Corporate Bond",
    "Real Estate",
    "Infrastructure",
    "Equal Weight",
    "ESG Leaders",
)
# (currency, ISIN country codes, issuer label, weight)
_BOND_MARKETS: Final = (
    ("USD", ("US",), "US Treasury", 50),
    ("EUR", ("DE", "FR", "NL", "IT", "ES"), "Bund", 20),
    ("GBP", ("GB",), "UK Gilt", 10),
    ("JPY", ("JP",), "JGB", 8),
    ("CHF", ("CH",), "Swiss Confederation", 4),
    ("CAD", ("CA",), "Canada", 4),
    ("AUD", ("AU",), "Australia", 4),
)
_EUR_SOVEREIGNS: Final = {"DE": "Bund", "FR": "OAT", "NL": "DSL", "IT": "BTP", "ES": "Bono"}
_CRYPTO_MAJORS: Final = (
    ("BTC", "Bitcoin", 68000.0),
    ("ETH", "Ethereum", 3400.0),
    ("SOL", "Solana", 160.0),
    ("XRP", "XRP", 0.55),
    ("ADA", "Cardano", 0.45),
    ("DOGE", "Dogecoin", 0.15),
    ("DOT", "Polkadot", 6.5),
    ("LTC", "Litecoin", 80.0),
    ("AVAX", "Avalanche", 30.0),
    ("LINK", "Chainlink", 15.0),
    ("ATOM", "Cosmos", 8.0),
    ("XLM", "Stellar", 0.11),
)
# How listing feeds describe the security, which makes real instrument names long.
_SHARE_CLASSES: Final[dict[str, tuple[str, ...]]] = {
    "NYSE": ("Common Stock", "Class A Common Stock", "Class B Common Stock", "American Depositary Shares"),
    "NASDAQ": ("Common Stock", "Class A Common Stock", "Class C Capital Stock", "American Depositary Shares"),
    "LSE": ("Ordinary Shares", "Ordinary Shares 10p"),
    "XETRA": ("Registered Shares", "Bearer Shares", "Preference Shares"),
    "EURONEXT": ("Ordinary Shares", "Bearer Shares"),
    "SIX": ("Registered Shares", "Bearer Shares"),
    "TSE": ("Common Stock", "Ordinary Shares"),
    "TSX": ("Common Shares", "Subordinate Voting Shares", "Class A Shares"),
    "ASX": ("Fully Paid Ordinary Shares", "Ordinary Shares"),
}
_QUALIFIERS: Final = ("Global", "International", "Advanced", "Integrated", "United", "Consolidated", "Applied")
_ETF_SHARE_CLASSES: Final = ("Index Fund Shares", "Index Fund (Acc)", "Index Fund (Dist)", "Portfolio Shares")
_BOND_KINDS: Final = ("Senior Unsecured Notes", "Senior Notes", "Fixed Rate Bonds", "Medium-Term Notes")
_CRYPTO_KINDS: Final = ("Coin", "Token", "Protocol", "Network", "Chain", "Finance", "Swap", "DAO")
# (code, name, USD per unit at the start of the calendar)
_CURRENCIES: Final = (
    ("USD", "US Dollar", 1.0),
    ("EUR", "Euro", 1.08),
    ("GBP", "British Pound", 1.27),
    ("JPY", "Japanese Yen", 0.0067),
    ("CHF", "Swiss Franc", 1.12),
    ("CAD", "Canadian Dollar", 0.73),
    ("AUD", "Australian Dollar", 0.66),
    ("NZD", "New Zealand Dollar", 0.61),
    ("SEK", "Swedish Krona", 0.095),
    ("NOK", "Norwegian Krone", 0.093),
    ("DKK", "Danish Krone", 0.145),
    ("HKD", "Hong Kong Dollar", 0.128),
    ("SGD", "Singapore Dollar", 0.74),
    ("CNY", "Chinese Yuan", 0.138),
    ("INR", "Indian Rupee", 0.012),
    ("KRW", "South Korean Won", 0.00073),
    ("MXN", "Mexican Peso", 0.055),
    ("BRL", "Brazilian Real", 0.19),
    ("ZAR", "South African Rand", 0.054),
    ("PLN", "Polish Zloty", 0.25),
)
_CURRENCY_NAMES: Final = {code: name for code, name, _rate in _CURRENCIES}

# Per asset class: (daily volatility range, bid/ask half-spread as a fraction of price).
_VOLATILITY: Final[dict[str, tuple[float, float]]] = {
    "equity": (0.010, 0.030),
    "etf": (0.006, 0.014),
    "bond": (0.002, 0.005),
    "crypto": (0.030, 0.060),
    "cash": (0.003, 0.007),
}
_HALF_SPREAD: Final[dict[str, float]] = {
    "equity": 0.0004,
    "etf": 0.0002,
    "bond": 0.0008,
    "crypto": 0.0010,
    "cash": 0.00005,
}
# Relative weight of each asset class in users' holdings (cash is drawn separately).
_POPULARITY: Final[dict[str, float]] = {"equity": 1.0, "etf": 1.6, "bond": 0.35, "crypto": 0.5}
_UPPER: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
