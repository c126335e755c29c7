#!/usr/bin/perl
# Real Perl Gearman::Client (CPAN Gearman 2.004) used by tests/clients/test_perl.py.
#
# usage: perl client.pl PORT COMMAND ARGS...
#   normal|high|low FUNCTION PAYLOAD   do_task with priority       -> {"result","events"}
#   bg|highbg|lowbg FUNCTION PAYLOAD   dispatch_background         -> {"handle"}
#   status HANDLE                      get_status (GET_STATUS)     -> {"known","running","numerator","denominator"}
#   server_status                      get_job_server_status (text "status") -> {"status"}
# The client is created with exceptions => 1, so it sends OPTION_REQ "exceptions" first.
# Prints one JSON object on stdout. Every task has a 10 s timeout.
use strict;
use warnings;
use Gearman::Client;
use JSON::PP;

my ($port, $cmd, @args) = @ARGV;
die "usage: client.pl PORT COMMAND ARGS...\n" unless defined $cmd;

my $client = Gearman::Client->new(
    job_servers     => ["127.0.0.1:$port"],
    exceptions      => 1,
    command_timeout => 10,
);
my $json = JSON::PP->new->canonical->allow_nonref;

sub out { print $json->encode($_[0]), "\n"; }

my %priority = (normal => 'normal', high => 'high', low => 'low',
                bg => 'normal', highbg => 'high', lowbg => 'low');

if ($cmd =~ /^(normal|high|low)$/) {
    my @events;
    my $ret = $client->do_task($args[0], $args[1], {
        priority     => $priority{$cmd},
        timeout      => 10,
        on_status    => sub { push @events, ['status', "$_[0]", "$_[1]"] },
        on_data      => sub { push @events, ['data', ${ $_[0] }] },
        on_warning   => sub { push @events, ['warning', ${ $_[0] }] },
        on_exception => sub { push @events, ['exception', $_[0]] },
        on_fail      => sub { push @events, ['fail'] },
    });
    out({ result => defined $ret ? $$ret : undef, events => \@events });
}
elsif ($cmd =~ /^(bg|highbg|lowbg)$/) {
    my $handle = $client->dispatch_background($args[0], $args[1], {
        priority => $priority{$cmd},
        uniq     => $args[2],
    });
    out({ handle => $handle });
}
elsif ($cmd eq 'status') {
    # get_status returns undef when the job is unknown (known == 0) or nothing came back.
    my $st = $client->get_status($args[0]);
    unless ($st) {
        out({ known => JSON::PP::false, unknown_or_no_reply => JSON::PP::true });
        exit 0;
    }
    my $progress = $st->progress;
    out({
        known       => $st->known ? JSON::PP::true : JSON::PP::false,
        running     => $st->running ? JSON::PP::true : JSON::PP::false,
        numerator   => $progress ? $progress->[0] : undef,
        denominator => $progress ? $progress->[1] : undef,
    });
}
elsif ($cmd eq 'server_status') {
    out({ status => $client->get_job_server_status });
}
else {
    die "unknown command $cmd\n";
}
