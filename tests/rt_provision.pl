#!/usr/bin/perl
# Test set-up for a throwaway RT 5 instance, done through RT's Perl API as RT->SystemUser.
#
# The environment variables RT_SITE_CONFIG and RT_SITE_CONFIG_DIR select the instance.
# The script loads RT once (about 1.5 s) and then serves requests, one JSON object per line
# on stdin: {"code": "<Perl>", "args": {...}}. The code runs with RT loaded, sees the
# request's args as $args (a hash reference) and may call the subroutines below. For each
# request the script writes one JSON line to stdout:
#   {"ok": true, "output": "<what the code printed>"} or {"ok": false, "error": "<message>"}.
# It exits when stdin closes.
use strict;
use warnings;

use lib '/usr/share/request-tracker5/lib';

use Encode ();
use JSON ();
use RT;

# Custom fields and rights the integration needs. The names are fixed by the integration's
# public interface; the rights are the ones it uses on RT 5.0.
our @TICKET_CUSTOM_FIELDS = ('DeviceId', 'Device Information', 'Area', 'Address');
our @ASSET_CUSTOM_FIELDS  = (
    'DeviceId',         'Manufacturer',     'Model',
    'Serial Number',    'Firmware Version', 'Hardware Version',
    'Configuration URL', 'MAC Address',     'Area',
    'Address',
);
our @QUEUE_RIGHTS = qw(
    SeeQueue ShowTicket CreateTicket ModifyTicket CommentOnTicket ReplyToTicket
    ShowTicketComments SeeCustomField ModifyCustomField
);
our @CATALOG_RIGHTS = qw(
    ShowCatalog ShowAsset CreateAsset ModifyAsset SeeCustomField ModifyCustomField
);
our $API_USER = 'ha';

# RT's methods report failure as a false first return value plus a message, not by dying.
sub check {
    my ($what, $ok, $message) = @_;
    die "$what failed: " . ($message // 'no message from RT') . "\n" unless $ok;
    return $ok;
}

sub load_user {
    my ($name) = @_;
    my $user = RT::User->new(RT->SystemUser);
    $user->Load($name);
    die "user '$name' not found\n" unless $user->id;
    return $user;
}

# Load a freeform single-value custom field by name and lookup type, or create it.
sub custom_field {
    my ($name, $lookup_type) = @_;

    my $fields = RT::CustomFields->new(RT->SystemUser);
    # RT treats custom field names case-insensitively and warns about a case-sensitive search.
    $fields->Limit(FIELD => 'Name',       VALUE => $name, CASESENSITIVE => 0);
    $fields->Limit(FIELD => 'LookupType', VALUE => $lookup_type);
    $fields->Limit(FIELD => 'Disabled',   VALUE => 0);
    my $field = $fields->First;
    return $field if $field;

    $field = RT::CustomField->new(RT->SystemUser);
    check(
        "creating custom field '$name'",
        $field->Create(
            Name       => $name,
            Type       => 'Freeform',
            MaxValues  => 1,
            LookupType => $lookup_type,
        )
    );
    return $field;
}

sub grant_rights {
    my ($user_name, $object, @rights) = @_;

    my $principal = load_user($user_name)->PrincipalObj;
    for my $right (@rights) {
        check("granting $right to '$user_name'", $principal->GrantRight(Object => $object, Right => $right));
    }
}

# Create a queue with ticket custom fields applied and rights granted to the API user.
# Options: CustomFields and Rights (array references, default: all the integration needs),
# User (default "ha"). Returns the queue id.
sub create_queue {
    my ($name, %options) = @_;
    my @fields = @{ $options{CustomFields} // \@TICKET_CUSTOM_FIELDS };
    my @rights = @{ $options{Rights}       // \@QUEUE_RIGHTS };
    my $user   = $options{User} // $API_USER;

    my $queue = RT::Queue->new(RT->SystemUser);
    check("creating queue '$name'", $queue->Create(Name => $name));

    for my $field_name (@fields) {
        my $field = custom_field($field_name, RT::Ticket->CustomFieldLookupType);
        check("applying custom field '$field_name' to queue '$name'", $field->AddToObject($queue));
    }

    grant_rights($user, $queue, @rights);
    return $queue->id;
}

# Create a catalog (lifecycle "assets") with asset custom fields applied and rights granted
# to the API user. Same options as create_queue. Returns the catalog id.
sub create_catalog {
    my ($name, %options) = @_;
    my @fields = @{ $options{CustomFields} // \@ASSET_CUSTOM_FIELDS };
    my @rights = @{ $options{Rights}       // \@CATALOG_RIGHTS };
    my $user   = $options{User} // $API_USER;

    my $catalog = RT::Catalog->new(RT->SystemUser);
    check("creating catalog '$name'", $catalog->Create(Name => $name, Lifecycle => 'assets'));

    for my $field_name (@fields) {
        my $field = custom_field($field_name, RT::Asset->CustomFieldLookupType);
        check("applying custom field '$field_name' to catalog '$name'", $field->AddToObject($catalog));
    }

    grant_rights($user, $catalog, @rights);
    return $catalog->id;
}

# Create a privileged user (staff, may use REST2) and return its id.
sub create_user {
    my ($name) = @_;

    my $user = RT::User->new(RT->SystemUser);
    check(
        "creating user '$name'",
        $user->Create(
            Name         => $name,
            Privileged   => 1,
            EmailAddress => "$name\@example.test",
        )
    );
    return $user->id;
}

# Create an auth token for a user and return its secret, the string REST2 takes after
# "Authorization: token ".
sub create_token {
    my ($user_name, $description) = @_;

    my $token = RT::AuthToken->new(RT->SystemUser);
    my ($id, $message, $secret) = $token->Create(
        Owner       => load_user($user_name)->id,
        Description => $description // 'tests',
    );
    check("creating a token for '$user_name'", $id, $message);
    return $secret;
}

# RT's web handler drops its per-process caches before each request. Do the same so that each
# request here sees what the web server wrote in the meantime.
sub drop_caches {
    RT::Principal->InvalidateACLCache();
    DBIx::SearchBuilder::Record::Cachable->FlushCache
        if DBIx::SearchBuilder::Record::Cachable->can('FlushCache');
}

sub run_code {
    my ($code, $args) = @_;

    my $output = '';
    my $ok     = do {
        local *STDOUT;
        open STDOUT, '>:encoding(UTF-8)', \$output or die "cannot capture output: $!\n";
        ## no critic (ProhibitStringyEval): running the caller's Perl is the purpose.
        eval "no strict 'vars';\n#line 1 \"snippet\"\n$code\n;1";
    };
    my $error = $@;
    return $ok
        ? { ok => JSON::true,  output => Encode::decode('UTF-8', $output) }
        : { ok => JSON::false, error  => "$error" };
}

sub serve {
    my $json = JSON->new->utf8->canonical;
    STDOUT->autoflush(1);

    while (my $line = <STDIN>) {
        chomp $line;
        my $request = eval { $json->decode($line) };
        my $reply;
        if (ref $request eq 'HASH' && defined $request->{code}) {
            drop_caches();
            $reply = run_code($request->{code}, $request->{args} // {});
        } else {
            $reply = { ok => JSON::false, error => "invalid request line (expected JSON with 'code'): $line" };
        }
        print {*STDOUT} $json->encode($reply), "\n";
    }
}

RT::LoadConfig();
RT::Init();
serve();
