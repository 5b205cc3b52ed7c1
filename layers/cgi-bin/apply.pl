#!/usr/bin/perl
# apply.pl - job application / contact form.
#
# GET  /cgi-bin/apply.pl?job=17   show the form
# POST /cgi-bin/apply.pl          (application/x-www-form-urlencoded)
#   invalid -> the form again (200) with error messages, values kept
#   valid   -> inserted into the applications table of db/acme.db (the
#              site's writable directory; $ACME_DATA_DIR overrides it),
#              then "303 See Other" to thanks.pl with two cookies
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(strftime);
use AcmeJobs qw(:all);

my %MAX = (name => 100, email => 254, message => 5000);

my $method = defined $ENV{REQUEST_METHOD} ? $ENV{REQUEST_METHOD} : 'GET';

if ($method eq 'GET' || $method eq 'HEAD') {
    my $p = query_params();
    my $job = find_job($p->{job});
    print_headers();
    exit 0 if $method eq 'HEAD';
    show_form({ job => $job ? $job->{id} : '' }, {});
    exit 0;
}

if ($method ne 'POST') {
    print_headers(status => '405 Method Not Allowed', type => 'text/plain',
                  headers => ['Allow: GET, HEAD, POST']);
    print "Method not allowed.\n";
    exit 0;
}

my $ctype = defined $ENV{CONTENT_TYPE} ? $ENV{CONTENT_TYPE} : '';
if ($ctype !~ m{\Aapplication/x-www-form-urlencoded\s*(?:;|\z)}i) {
    print_headers(status => '415 Unsupported Media Type', type => 'text/plain');
    print "Please submit the form as application/x-www-form-urlencoded.\n";
    exit 0;
}

my ($body, $err) = read_post_body();
if (!defined $body) {
    print_headers(status => $err, type => 'text/plain');
    print "Could not read the request body ($err).\n";
    exit 0;
}

my $in = parse_urlencoded($body);
my %v;
for my $f (qw(name email message job)) {
    my $s = defined $in->{$f} ? $in->{$f} : '';
    $s =~ s/\r\n?/\n/g;
    $s =~ s/\A\s+//;
    $s =~ s/\s+\z//;
    $v{$f} = $s;
}

my %errors;
if (!length $v{name}) {
    $errors{name} = 'Please tell us your name.';
}
elsif (length $v{name} > $MAX{name}) {
    $errors{name} = "Your name must be at most $MAX{name} characters.";
}
elsif ($v{name} =~ /[\x00-\x1f\x7f]/) {
    $errors{name} = 'Your name contains invalid characters.';
}
if (!length $v{email}) {
    $errors{email} = 'Please enter your e-mail address.';
}
elsif (length $v{email} > $MAX{email}
       || $v{email} !~ /\A[A-Za-z0-9.!#\$%&'*+\/=?^_`{|}~-]+\@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\z/) {
    $errors{email} = 'That does not look like a valid e-mail address.';
}
if (!length $v{message}) {
    $errors{message} = 'Please write a short message or cover letter.';
}
elsif (length $v{message} > $MAX{message}) {
    $errors{message} = "Your message must be at most $MAX{message} characters.";
}
my $job;
if (length $v{job}) {
    $job = find_job($v{job});
    $errors{job} = 'The job you are applying for no longer exists.' unless $job;
}

if (%errors) {
    print_headers(headers => ['Cache-Control: no-store']);
    show_form(\%v, \%errors);
    exit 0;
}

# --- store the application (one transaction; concurrent posters wait their turn)
my $saved = eval {
    add_application(
        received    => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime),
        job_id      => $job ? $job->{id} : undef,
        name        => $v{name},
        email       => $v{email},
        message     => $v{message},
        remote_addr => $ENV{REMOTE_ADDR},
    );
};
if (!$saved) {
    my $err = $@ || 'unknown error';
    $err =~ s/\s+\z//;
    print STDERR "apply.pl: cannot save the application to ", db_file(), ": $err\n";
    print_headers(status => '500 Internal Server Error');
    print page_start('Error');
    print "<h1>Sorry, something went wrong</h1>\n<p>We could not save your application. Please try again later.</p>\n";
    print page_end();
    exit 0;
}

# --- redirect after POST
my $location = absolute_base() . cgi_base() . '/thanks.pl?name=' . url_encode($v{name});
$location .= '&job=' . $job->{id} if $job;
print_headers(
    status  => '303 See Other',
    type    => 'text/html; charset=UTF-8',
    headers => [
        "Location: $location",
        'Set-Cookie: applicant=' . url_encode($v{name}) . '; Path=/; HttpOnly; SameSite=Lax',
        'Set-Cookie: last_job=' . ($job ? $job->{id} : 'none') . '; Path=/; Max-Age=2592000; SameSite=Lax',
        'Cache-Control: no-store',
    ],
);
printf qq{<!DOCTYPE html>\n<html><head><title>See Other</title></head><body><p>Thank you! Continue to <a href="%s">%s</a>.</p></body></html>\n},
    html_escape($location), html_escape($location);
exit 0;

# ------------------------------------------------------------------------

sub show_form {
    my ($v, $errors) = @_;
    my $self = html_escape(defined $ENV{SCRIPT_NAME} ? $ENV{SCRIPT_NAME} : '/cgi-bin/apply.pl');
    my $base = cgi_base();
    my $job  = find_job($v->{job});
    my %h = map { $_ => html_escape(defined $v->{$_} ? $v->{$_} : '') } qw(name email message);
    my $jid = $job ? html_escape($job->{id}) : '';
    my $err = sub {
        my ($f) = @_;
        return $errors->{$f} ? qq{<span class="error">} . html_escape($errors->{$f}) . "</span>" : '';
    };

    print page_start($job ? "Apply: $job->{title}" : 'Contact us');
    if ($job) {
        printf qq{<h1>Apply for: <a href="%s">%s</a></h1>\n<p>%s &middot; %s</p>\n},
            html_escape("$base/job.pl/$job->{id}"), html_escape($job->{title}),
            html_escape($job->{company}), html_escape($job->{location});
    }
    else {
        print "<h1>Contact us</h1>\n<p>Questions, feedback, or a general application? Drop us a line.</p>\n";
    }
    if (%$errors) {
        print qq{<div class="errors"><p><b>Please correct the following:</b></p><ul>\n};
        print '<li>', html_escape($errors->{$_}), "</li>\n"
            for grep { $errors->{$_} } qw(name email message job);
        print "</ul></div>\n";
    }
    my ($en, $ee, $em) = map { $err->($_) } qw(name email message);
    print <<"HTML";
<form class="apply" method="post" action="$self">
  <input type="hidden" name="job" value="$jid">
  <p><label for="name">Your name</label><br>
     <input type="text" id="name" name="name" value="$h{name}" size="40" maxlength="$MAX{name}"> $en</p>
  <p><label for="email">E-mail address</label><br>
     <input type="text" id="email" name="email" value="$h{email}" size="40" maxlength="$MAX{email}"> $ee</p>
  <p><label for="message">Message / cover letter</label><br>
     <textarea id="message" name="message" rows="8" cols="60">$h{message}</textarea><br>$em</p>
  <p><input type="submit" value="Send application"></p>
</form>
<p class="note">We store your application for our (fictional) recruiters. Your name is remembered in a cookie to greet you.</p>
HTML
    print page_end();
}
