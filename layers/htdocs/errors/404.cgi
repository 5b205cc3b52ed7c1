#!/bin/sh
# ErrorDocument 404: the site's "page not found", styled like the rest.
# REDIRECT_URL is the path that was asked for; SCRIPT_NAME tells the site's prefix (a REST stage).
base=${SCRIPT_NAME%/errors/404.cgi}
escape() { printf '%s' "$1" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g'; }
missing=$(escape "${REDIRECT_URL:-this page}")
home=$(escape "$base/")
printf 'Content-Type: text/html; charset=utf-8\r\n\r\n'
[ "$REQUEST_METHOD" = HEAD ] && exit 0
cat <<HTML
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>404 Not Found</title>
<link rel="stylesheet" href="${home}style.css">
<link rel="icon" href="${home}favicon.ico">
</head>
<body>
<div id="wrap">
<div id="header">
  <a href="${home}"><img src="${home}logo.png" width="160" height="48" alt="Acme Jobs"></a>
  <ul id="nav">
    <li><a href="${home}">Home</a></li>
    <li><a href="${home}cgi-bin/search.pl">Browse jobs</a></li>
    <li><a href="${home}about.html">About</a></li>
  </ul>
</div>
<div id="content">
  <h1>Page not found</h1>
  <p>Sorry, we could not find <code>${missing}</code>. The job may have been filled, or the link is old.</p>
  <p><a href="${home}cgi-bin/search.pl">Search all current jobs</a> or go back to the <a href="${home}">home page</a>.</p>
</div>
</div>
</body>
</html>
HTML
