#!/usr/bin/perl
# printenv.pl - classic CGI debugging script: dump the environment the
# server passed to us, sorted, as text/plain.
#
# Values of variables that look like credentials (AWS_SECRET_ACCESS_KEY,
# AWS_SESSION_TOKEN, *PASSWORD*, ...) are masked.  Set
# ACME_PRINTENV_CGI_ONLY=1 to list only the CGI/1.1 request variables.
use strict;
use warnings;

my $cgi_only = defined $ENV{ACME_PRINTENV_CGI_ONLY} && $ENV{ACME_PRINTENV_CGI_ONLY} eq '1';
my $cgi_re = qr/\A(?:HTTP_\w+|CONTENT_(?:LENGTH|TYPE)|GATEWAY_INTERFACE|PATH_INFO|PATH_TRANSLATED
                 |QUERY_STRING|REMOTE_\w+|REQUEST_\w+|SCRIPT_\w+|SERVER_\w+|AUTH_TYPE|HTTPS|DOCUMENT_ROOT
                 |CONTEXT_\w+|UNIQUE_ID)\z/x;
my $secret_re = qr/SECRET|TOKEN|PASSW|PRIVATE|CREDENTIAL|ACCESS_KEY|API_KEY|\AHTTP_AUTHORIZATION\z/i;

binmode STDOUT;
print "Content-Type: text/plain; charset=UTF-8\n";
print "Cache-Control: no-store\n";
print "X-Content-Type-Options: nosniff\n\n";

for my $k (sort keys %ENV) {
    next if $cgi_only && $k !~ $cgi_re;
    my $v = $ENV{$k};
    if ($k =~ $secret_re) {
        $v = length $v ? '[hidden]' : '';
    }
    $v =~ s/([\x00-\x08\x0a-\x1f\x7f])/sprintf('\\x%02x', ord $1)/ge;
    print "$k=\"$v\"\n";
}
exit 0;
