#!/usr/bin/perl
# nph-time.pl - "non-parsed headers" CGI script (RFC 3875 section 5).
#
# Because its name starts with "nph-", the server must pass the output
# through untouched: the script writes the complete HTTP response itself,
# status line included, with CRLF line endings.
use strict;
use warnings;
use POSIX qw(strftime);

my $proto = defined $ENV{SERVER_PROTOCOL} && $ENV{SERVER_PROTOCOL} =~ m{\AHTTP/[0-9.]+\z}
    ? $ENV{SERVER_PROTOCOL} : 'HTTP/1.0';
my $method = defined $ENV{REQUEST_METHOD} ? $ENV{REQUEST_METHOD} : 'GET';

my @now  = gmtime;
my $date = strftime('%a, %d %b %Y %H:%M:%S GMT', @now);
my $iso  = strftime('%Y-%m-%dT%H:%M:%SZ', @now);

my $uptime = 'unknown';
if (open my $fh, '<', '/proc/uptime') {
    my $line = <$fh>;
    close $fh;
    if (defined $line && $line =~ /\A([0-9.]+)/) {
        my $s = int $1;
        $uptime = sprintf '%dd %02dh %02dm %02ds',
            int($s / 86400), int($s % 86400 / 3600), int($s % 3600 / 60), $s % 60;
    }
}

my $body = join '',
    "Acme Jobs server status\n",
    "=======================\n",
    "status:      OK\n",
    "server time: $iso\n",
    "epoch:       " . time . "\n",
    "uptime:      $uptime\n",
    "pid:         $$\n",
    "perl:        $^V\n",
    "software:    " . (defined $ENV{SERVER_SOFTWARE} ? $ENV{SERVER_SOFTWARE} : 'unknown') . "\n",
    "protocol:    $proto\n";

binmode STDOUT;
$| = 1;
print "$proto 200 OK\r\n",
      "Date: $date\r\n",
      "Content-Type: text/plain; charset=UTF-8\r\n",
      "Content-Length: " . length($body) . "\r\n",
      "Cache-Control: no-store\r\n",
      "X-Acme-NPH: 1\r\n",
      "\r\n";
print $body unless $method eq 'HEAD';
exit 0;
