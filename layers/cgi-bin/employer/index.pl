#!/usr/bin/perl
# Placeholder for the employer page (applications received); the login is checked by .htaccess.
use strict;
use warnings;
my $user = defined $ENV{REMOTE_USER} ? $ENV{REMOTE_USER} : '';
$user =~ s/[^A-Za-z0-9._-]//g;
print "Content-Type: text/html; charset=utf-8\r\n\r\n";
print "<!DOCTYPE html>\n<html><head><title>Acme Jobs - Employers</title></head>\n";
print "<body><h1>Employer area</h1><p>Signed in as <b id=\"user\">$user</b>.</p></body></html>\n";
