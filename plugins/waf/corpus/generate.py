#!/usr/bin/env python3
"""Writes benign.jsonl: realistic benign requests for measuring the WAF's
false-positive rate. Deterministic (fixed seed); rerun after editing:
    python3 generate.py > benign.jsonl
"""
import json
import random
import urllib.parse

rng = random.Random(20261126)

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70",
]
CLIENTS = [
    "curl/8.11.0",
    "python-requests/2.32.3",
    "okhttp/4.12.0",
    "axios/1.7.7",
    "Go-http-client/2.0",
    "PostmanRuntime/7.42.0",
    "Apache-HttpClient/5.3 (Java/21.0.5)",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Dart/3.5 (dart:io)",
    "kube-probe/1.31",
]
LANGS = ["en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "en-GB,en;q=0.8", "pt-BR,pt;q=0.9,en;q=0.7", "ja,en;q=0.8"]
NAMES = ["O'Brien", "D'Angelo", "Zoë Saldaña", "Renée O'Connor", "Jean-Luc Picard", "Mary-Kate", "Seán Ó Súilleabháin",
         "José Álvarez", "Anne-Marie D'Arcy", "Li Wei", "Björk Guðmundsdóttir", "Chloë Grace", "N'Golo Kanté", "O'Neil & Sons",
         "Dr. Ruth", "Robert'); (just kidding)", "Émile Zola", "Kim Ji-woo", "McDonald's", "Lowe's"]
SEARCHES = [
    "select dress for wedding", "union station chicago", "how to write a script for a play", "drop shipping suppliers",
    "insert coin arcade", "update firmware router", "delete account", "script writing course", "union jack flag",
    "select comfort mattress", "table tennis rules", "from paris to rome by train", "where is my order", "order by phone",
    "java coffee beans", "python snake care", "ruby ring size", "shell beach hotel", "bash birthday party ideas",
    "cat food grain free", "echo dot 5th generation", "exec chair leather", "alert sound settings", "prompt engineering tips",
    "char siu pork recipe", "sleep apnea treatment", "benchmark gpu 2026", "the onion news", "or best offer",
    "1 or 2 bedroom apartment", "and then there were none", "rock & roll hall of fame", "tom & jerry", "q&a session",
    "50% off shoes", "c++ tutorial", "c# vs java", "node js hosting", "php developer jobs", "windows 11 update",
    "how to use curl with headers", "docker compose tutorial", "kubernetes ingress example", "what is sql injection",
    "xss prevention cheat sheet", "price < 100", "size > 10", "tickets for \"hamilton\"", "it's a wonderful life",
    "don't stop believin'", "rock 'n' roll", "ben & jerry's", "at&t customer service", "1+1", "e=mc^2", "a/b testing",
    "user manual pdf", "time zone converter", "date night ideas", "find my phone", "head and shoulders", "more or less",
    "last minute flights", "who is the president", "id card renewal", "ping pong table", "make up tutorial", "kill bill",
    "top 10 movies", "watch free movies", "sort by price", "less is more", "touch screen laptop", "tail light repair",
    "system of a down", "exec summary template", "import car from germany", "eval form template",
    "confirm email address", "set table for dinner", "type c charger", "net worth calculator", "dir en grey", "ls swap kit",
    "where's waldo", "o'reilly books", "d'artagnan", "l'oréal paris", "rue de l'église", "hors d'oeuvres",
    "1980's fashion", "the 90's", "mom's spaghetti", "children's books", "women's shoes size 8", "men's watches",
]
SENTENCES = [
    "Please select your favourite option from the list below.", "We will update you when your order ships.",
    "Insert the tracking number here and press continue.", "Thank you for shopping with us, have a nice day!",
    "Union members meet on Friday at the community hall.", "Script rehearsal starts at noon; bring your own copy.",
    "The drop-off point is the main entrance.", "I'd like to return the shoes, they're too small.",
    "Can you delete my old address from the account?", "My order #12345 hasn't arrived yet - any update?",
    "The item was damaged (the box was crushed).", "Where's the nearest store to 10 Downing St.?",
    "I love the new design & the colours!", "It's 50% cheaper than elsewhere, great deal.",
    "Could you send the invoice to my work e-mail?", "The form says \"select a date\" but the calendar won't open.",
    "Is the table available in oak or walnut?", "We're a small team of 3-5 people working remotely.",
    "Please call me between 9:00 and 17:00 (CET).", "The password reset link expired; can you resend it?",
    "Our union voted to select a new representative.", "I ran the script from the tutorial and it worked, thanks!",
    "Drop me a line if you need anything else.", "Who is the contact person for sales in the UK?",
    "Last time the delivery took 2 weeks :(", "Kids & adults alike will enjoy it.",
    "The cat knocked the vase off the table again.", "Find attached the signed contract for 2026/2027.",
    "Make sure to sort the files by date before uploading.", "Head office moved to Rue de l'Église 5.",
    "Time to renew your subscription - 30 days left.", "I'm not sure whether to choose A or B.",
    "The price is $19.99 + tax; shipping is free over $50.", "Do you ship to Åland or the Faroe Islands?",
]
HTML_SNIPPETS = [
    "<p>Hello <b>world</b>!</p>", "<p>See <a href=\"https://example.com/docs\">the docs</a> for details.</p>",
    "<ul><li>Milk</li><li>Eggs</li><li>Bread</li></ul>", "<h2>Release notes</h2><p>Fixed <em>many</em> bugs.</p>",
    "<p><img src=\"/uploads/cat.png\" alt=\"My cat\" width=\"200\"></p>", "<blockquote>To be or not to be</blockquote>",
    "<p>Price: &euro;20 &amp; free shipping</p>", "<table><tr><td>1</td><td>2</td></tr></table>",
    "<p style=\"color: red\">Important</p>", "<p>Call me at <strong>555-0100</strong></p>", "<code>x = y + 1</code>",
    "<p>I <3 this product &lt;3</p>", "<div class=\"note\">Remember the meeting</div>", "<span title=\"tip\">Hover</span>",
    "<p>Line one<br>Line two</p>", "<a href=\"mailto:support@example.com\">Email us</a>", "<p>5 &gt; 3 and 2 &lt; 4</p>",
]
PATHS = ["/home/alice/documents/report.pdf", "C:\\Users\\Bob\\Desktop\\notes.txt", "/var/www/uploads/2026/11/photo.jpg",
         "images/logo.png", "docs/guide/getting-started.md", "/srv/data/exports/orders-2026-11.csv",
         "D:\\Projects\\wasmgress\\README.md", "~/Downloads/invoice.pdf", "src/main.rs", "assets/css/site.min.css"]
PRODUCTS = ["Laptop Pro 14\"", "USB-C cable (2m)", "Men's running shoes", "Kid's bike - 16 in", "Coffee grinder #2",
            "Tea; green & black", "T-shirt (XL) / blue", "Book: \"Dune\"", "50% wool scarf", "Phone case, clear"]
CITIES = ["São Paulo", "Zürich", "Kraków", "New York", "Saint-Étienne", "L'Aquila", "Ho Chi Minh City", "Reykjavík", "Köln"]
EMAILS = ["alice@example.com", "bob.o'neil@example.org", "chloe+news@example.net", "d.smith@sub.example.co.uk"]

out = []


def browser_headers(accept="text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"):
    h = {"User-Agent": rng.choice(BROWSERS), "Accept": accept, "Accept-Language": rng.choice(LANGS),
         "Accept-Encoding": "gzip, deflate, br, zstd"}
    if rng.random() < 0.6:
        h["Referer"] = rng.choice(["https://www.example.com/", "https://shop.example.com/products?category=shoes&page=2",
                                   "https://www.google.com/", "https://example.com/search?q=o%27brien+select"])
    if rng.random() < 0.7:
        h["Cookie"] = "; ".join([f"session={rng.getrandbits(64):016x}", "theme=dark", f"lang={rng.choice(['en', 'de', 'fr'])}",
                                 "consent=analytics%3Dno%26ads%3Dno", f"_ga=GA1.2.{rng.randint(10**8, 10**9)}.{rng.randint(10**8, 10**9)}"][: rng.randint(1, 5)])
    if rng.random() < 0.5:
        h["Sec-Fetch-Mode"] = "navigate"
        h["Sec-Fetch-Site"] = "same-origin"
        h["Sec-CH-UA"] = "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\""
        h["Sec-CH-UA-Platform"] = "\"Windows\""
    return h


def api_headers():
    h = {"User-Agent": rng.choice(CLIENTS), "Accept": "application/json"}
    if rng.random() < 0.7:
        h["Authorization"] = f"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{rng.getrandbits(40):x}In0.{rng.getrandbits(64):x}"
    if rng.random() < 0.5:
        h["X-Request-Id"] = f"{rng.getrandbits(128):032x}"
    if rng.random() < 0.3:
        h["traceparent"] = f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"
    return h


def add(method, uri, headers, body=None):
    entry = {"method": method, "uri": uri, "headers": headers}
    if body is not None:
        entry["body"] = body
    out.append(entry)


def q(params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote_plus)


def sentence(n):
    return " ".join(rng.sample(SENTENCES, max(1, n // 8)))


# Search pages and listings (GET with query arguments).
for s in SEARCHES:
    add("GET", "/search?" + q({"q": s, "page": rng.randint(1, 9), "sort": rng.choice(["relevance", "price_asc", "newest"])}), browser_headers())
for i in range(60):
    params = {"category": rng.choice(["shoes", "books", "garden", "toys", "electronics"]), "min_price": rng.randint(0, 50),
              "max_price": rng.randint(51, 500), "color": rng.choice(["red", "navy blue", "black/white", "beige"]),
              "size": rng.choice(["S", "M", "L", "10.5", "EU 42"]), "in_stock": "true"}
    add("GET", "/products?" + q(dict(rng.sample(list(params.items()), rng.randint(2, 6)))), browser_headers())
# Static assets and pages.
for path in ["/", "/index.html", "/about", "/contact", "/static/js/app.3f9a1c.js", "/static/css/main.css", "/favicon.ico",
             "/robots.txt", "/sitemap.xml", "/images/hero@2x.webp", "/fonts/Inter-Regular.woff2", "/blog/2026/11/release-notes",
             "/docs/getting-started#install", "/users/42/avatar.png", "/api/health", "/healthz", "/.well-known/security.txt",
             "/.well-known/openid-configuration", "/downloads/setup-1.2.3.exe", "/wiki/Main_Page", "/wiki/C%2B%2B",
             "/tag/select", "/tag/union", "/tag/script", "/news/o'brien-wins", "/shop/men's-shoes", "/a/b/c/d/e/f",
             "/files/report%202026.pdf", "/category/rock-%26-roll"]:
    add("GET", path, browser_headers("*/*" if "." in path.rsplit("/", 1)[-1] else "text/html,*/*;q=0.8"))
# REST API reads.
for i in range(70):
    uid = rng.randint(1, 99999)
    path = rng.choice([f"/api/v1/users/{uid}", f"/api/v1/orders?user_id={uid}&status=shipped&limit=20",
                       f"/api/v2/items?fields=id,name,price&sort=-created_at&filter[name]=chair",
                       f"/graphql?query={urllib.parse.quote('{ user(id: %d) { name email } }' % uid)}",
                       f"/api/v1/search?q={urllib.parse.quote(rng.choice(SEARCHES))}&lang=en",
                       f"/api/v1/files?path={urllib.parse.quote(rng.choice(PATHS))}",
                       f"/api/v1/geo?lat=52.52&lon=13.405&radius=5km", f"/api/v1/time?tz=Europe%2FBerlin&from=2026-11-01T00:00:00Z",
                       f"/api/v1/reports/{uid}/export?format=csv&columns=date,amount,description"])
    add("GET", path, api_headers())
# JSON API writes.
for i in range(110):
    kind = i % 6
    if kind == 0:
        doc = {"name": rng.choice(NAMES), "email": rng.choice(EMAILS), "city": rng.choice(CITIES),
               "bio": sentence(rng.randint(5, 20)), "tags": rng.sample(["select", "union", "script", "admin", "drop", "rock & roll", "c#"], 3)}
        path = "/api/v1/users"
    elif kind == 1:
        doc = {"order": {"items": [{"sku": f"SKU-{rng.randint(1000, 9999)}", "name": rng.choice(PRODUCTS), "qty": rng.randint(1, 5),
                                    "price": round(rng.uniform(1, 500), 2)} for _ in range(rng.randint(1, 4))],
                         "note": rng.choice(["Leave at the door", "Ring twice; dog is friendly", "Call 555-0100 or 555-0101",
                                             "Gift wrap please :)", "Deliver after 6 pm", "It's for my mom's birthday!"])},
               "coupon": rng.choice(["", "BLACKFRIDAY", "WELCOME10", "50%OFF"])}
        path = "/api/v1/orders"
    elif kind == 2:
        doc = {"title": sentence(4), "body_html": " ".join(rng.sample(HTML_SNIPPETS, rng.randint(1, 3))), "draft": rng.random() < 0.5}
        path = f"/api/v1/posts/{rng.randint(1, 999)}"
    elif kind == 3:
        doc = {"query": "query($id: ID!) { product(id: $id) { name price reviews(first: 5) { text rating } } }",
               "variables": {"id": str(rng.randint(1, 9999))}, "operationName": None}
        path = "/graphql"
    elif kind == 4:
        doc = {"path": rng.choice(PATHS), "size": rng.randint(1, 10**7), "mime": rng.choice(["image/png", "application/pdf", "text/csv"]),
               "checksum": f"sha256:{rng.getrandbits(256):064x}"}
        path = "/api/v1/uploads/metadata"
    else:
        doc = {"event": rng.choice(["page_view", "click", "add_to_cart"]), "url": "https://shop.example.com/p/123?ref=home",
               "ts": 1764115200 + i, "props": {"button": "Select size", "section": "union-jack-collection", "scroll": 0.75}}
        path = "/collect"
    h = api_headers()
    h["Content-Type"] = "application/json"
    add(rng.choice(["POST", "PUT", "PATCH"]) if kind != 5 else "POST", path, h, json.dumps(doc, ensure_ascii=False))
# HTML forms.
for i in range(90):
    kind = i % 5
    if kind == 0:
        form = {"name": rng.choice(NAMES), "email": rng.choice(EMAILS), "subject": rng.choice(["Order question", "Return & refund", "Can't log in", "Feedback"]),
                "message": sentence(rng.randint(8, 30))}
        path = "/contact"
    elif kind == 1:
        form = {"username": rng.choice(["alice", "bob_smith", "o'brien", "jean-luc", "admin2"]), "password": f"Pa$$w0rd!{rng.randint(10, 99)}",
                "remember": "on"}
        path = "/login"
    elif kind == 2:
        form = {"first_name": rng.choice(NAMES).split()[0], "last_name": rng.choice(["O'Brien", "D'Souza", "Smith-Jones", "van der Berg"]),
                "address": f"{rng.randint(1, 200)} {rng.choice(['Main St.', 'Rue de l’Église', 'Baker Street, Apt #4', 'Königsallee'])}",
                "city": rng.choice(CITIES), "zip": f"{rng.randint(10000, 99999)}", "phone": "+1 (555) 010-0199"}
        path = "/checkout/address"
    elif kind == 3:
        form = {"comment": rng.choice(["Great product, would buy again!", "Doesn't fit - size runs small :(", "5/5 <3",
                                       "I'd say it's 50/50 whether it'll last.", "Works with Windows & Linux.",
                                       "Select the blue one, it's nicer.", "Shipping took 3-5 days; fine by me.",
                                       "The script in chapter 2 was hilarious", "Union-made, high quality"]),
                "rating": rng.randint(1, 5), "product_id": rng.randint(1, 9999)}
        path = "/reviews"
    else:
        form = {"q": rng.choice(SEARCHES), "filters[]": rng.choice(["new", "sale"]), "redirect": "/account/orders?tab=open"}
        path = "/search"
    h = browser_headers()
    h["Content-Type"] = "application/x-www-form-urlencoded"
    h["Origin"] = "https://www.example.com"
    add("POST", path, h, q(form))
# Multipart uploads.
for i in range(30):
    boundary = f"----WebKitFormBoundary{rng.getrandbits(64):016x}"
    fname = rng.choice(["holiday photo.jpg", "report-2026.pdf", "O'Brien CV.docx", "data (1).csv", "notes.txt", "avatar.png"])
    desc = rng.choice(["My résumé", "Q3 numbers & forecast", "Photo from the beach", "See attached; thanks!"])
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n{desc}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{fname}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\nBINARYDATA{rng.getrandbits(32):08x}\r\n--{boundary}--\r\n")
    h = browser_headers()
    h["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    add("POST", "/upload", h, body)
# Other methods and API clients.
for i in range(25):
    h = api_headers()
    add(rng.choice(["DELETE", "HEAD", "OPTIONS", "GET"]), f"/api/v1/items/{rng.randint(1, 9999)}", h)
for i in range(15):
    h = api_headers()
    h["Content-Type"] = "application/xml"
    add("POST", "/soap/orders", h, f"<?xml version=\"1.0\"?><order id=\"{rng.randint(1, 999)}\"><customer>{rng.choice(NAMES).replace('&', '&amp;')}</customer><note>Please select express shipping</note></order>")
for i in range(10):
    h = api_headers()
    h["Content-Type"] = "text/plain"
    add("POST", "/api/v1/notes", h, sentence(rng.randint(5, 25)))

# Free text that looks a little like code or markup but is not an attack.
TRICKY = [
    "O'Neil and O'Brien or Smith & Sons", "cats; dogs; birds", "Terms & Conditions | Privacy | Help",
    "1/2 cup flour; 2 eggs; 1 tsp salt (or to taste)", "https://example.com/path/to/page?x=1&y=2#section",
    "Re: your order #12345 (urgent!)", "2026-11-26T10:00:00+01:00", "C:\\Program Files\\App\\app.exe",
    "He said: \"it's fine\" -- and left.", "5' 11\" tall", "Rock 'n' Roll Hall of Fame", "<3 <3 <3",
    "I can't select more than 3 items from the dropdown", "Select-all doesn't work in Firefox",
    "The <b> tag makes text bold, right?", "Price: 10 EUR / 12 USD", "user@example.com; admin@example.com",
    "ssh access please (ticket 4411)", "Please cat-sit for me on 12/24", "See ../README for details",
    "Our script -- the one for the school play -- is ready", "50% off -- today only!!!", "a > b and c < d",
    "Use 'sudo' only when told to", "The cron job runs at 2am", "Windows 11 & Linux (Ubuntu 24.04)",
    "My password has a ; in it, is that ok?", "Hello, world! :) ;) :-(", "#hashtag #selfie #union",
    "@john_doe please review", "Call +1 (555) 010-0199 ext. 42", "Order 3x \"Blue Mug\" + 1x \"Red Mug\"",
    "Data: none provided", "Only 1 left in stock -- order soon", "Set your alarm for 6:30 AM",
    "Java, Python & Go developers wanted", "The shell was broken when it arrived", "Don't drop the table, it's glass!",
    "Who's on first? What's on second?", "Insert tab A into slot B", "Echo Park, Los Angeles, CA 90026",
    "Sort by: price (low to high)", "Top 10 tips & tricks for 2026", "Exec. summary attached (2 pages)",
]
for i, text in enumerate(TRICKY):
    if i % 3 == 0:
        add("GET", "/search?" + q({"q": text}), browser_headers())
    elif i % 3 == 1:
        h = browser_headers()
        h["Content-Type"] = "application/x-www-form-urlencoded"
        add("POST", "/comments", h, q({"author": rng.choice(NAMES), "text": text}))
    else:
        h = api_headers()
        h["Content-Type"] = "application/json"
        add("POST", "/api/v1/messages", h, json.dumps({"to": rng.choice(EMAILS), "subject": text[:20], "body": text}))
# Avatars uploaded as data URIs by a JSON API.
for i in range(5):
    h = api_headers()
    h["Content-Type"] = "application/json"
    add("PUT", f"/api/v1/users/{rng.randint(1, 999)}/avatar", h,
        json.dumps({"image": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk" + f"{rng.getrandbits(32):08x}" + "AAAABJRU5ErkJggg=="}))
# API clients that name a session in their JSON (chat, checkout,
# analytics): no Referer, as apps and servers send none.
for key, path in [("session_id", "/api/v1/chat/messages"), ("sessionid", "/api/v1/events"), ("session_id", "/api/v1/checkout/confirm")]:
    h = api_headers()
    h["Content-Type"] = "application/json"
    add("POST", path, h, json.dumps({key: f"{rng.getrandbits(96):024x}", "text": sentence(rng.randint(3, 8))}))
# Content types with parameters as browsers and libraries write them.
for ctype, body in [("application/x-www-form-urlencoded; charset=UTF-8", q({"name": rng.choice(NAMES), "city": rng.choice(CITIES)})),
                    ("application/json; charset=utf-8", json.dumps({"comment": sentence(6)})),
                    ("text/plain;charset=UTF-8", json.dumps({"event": "page_view", "path": "/products"})),
                    ("application/json;charset=UTF-8", json.dumps({"email": rng.choice(EMAILS)}))]:
    h = browser_headers("*/*")
    h["Content-Type"] = ctype
    add("POST", "/api/v1/forms", h, body)
# Near the shapes of attack rules: an API's field selection in braces, a
# file pattern, "no limit" as the largest integer, prose that names a
# database function, a shell tool or a PowerShell cmdlet, a quote then a
# semicolon later in the text.
for uri in ["/graph/v2/me?" + q({"fields": "friends{name,id},photos{id,link}"}),
            "/api/v1/files?" + q({"pattern": "*.{jpg,png,gif}", "dir": "uploads/2026"}),
            "/api/v1/items?" + q({"limit": "2147483647", "offset": "0"}),
            "/search?" + q({"q": "how to alter a dress with a character of its own"}),
            "/search?" + q({"q": "database (mysql) vs postgres schema design"}),
            "/search?" + q({"q": "powershell get-help examples for beginners"}),
            "/search?" + q({"q": "Rock 'n' Roll; the best of 1969"}),
            "/search?" + q({"q": "regedit reg query tutorial"})]:
    add("GET", uri, browser_headers())
# Near level 2's shapes: C and C++ in a job ad, a loop in a code question,
# a search that starts with a tool's name, arithmetic, a height in feet
# and inches, a numbered list typed into a text area, PHP named in prose.
for uri in ["/jobs/search?" + q({"q": "Experience with C and C++ (required)", "remote": "yes"}),
            "/search?" + q({"q": "python tutorial for beginners -- part 2"}),
            "/search?" + q({"q": "docker compose vs kubernetes"}),
            "/search?" + q({"q": "is 1+1=2 always true in binary"}),
            "/search?" + q({"q": "array functions in php explained"})]:
    add("GET", uri, browser_headers())
h = browser_headers()
h["Content-Type"] = "application/x-www-form-urlencoded"
add("POST", "/forum/questions", h, q({"title": "Why does my loop not stop?", "body": "I wrote for (i = 0; i < n; i++) and while (x != y && y > 0) { y-- } but it never ends."}))
add("POST", "/profile", h, q({"height": "5' 11\"", "shoe": "44", "about": "Tall and friendly"}))
add("POST", "/support/tickets", h, q({"steps": "1 open the app\r\n2 select your size\r\n3 check out", "device": "Pixel 8"}))

for e in out:
    print(json.dumps(e, ensure_ascii=False))
