# The help of the cmdlets (ps-module/en-US/TvmBackupUtils.dll-Help.xml, read by Get-Help) and argument completion.
# New tests (no xunit class before them): every cmdlet has a synopsis, a description, a description of every
# parameter it declares, matching what the cmdlet declares, and at least two examples with code and remarks (three for
# the commands on backups: Test-TVMKeyBackup, Get-TVMKeyBackup, Remove-TVMKeyBackup, and for New-TvmWrappingKey and
# Remove-TvmWrappingKey); the
# examples bind to the cmdlets' real parameters, and take every -Password from Read-Host -AsSecureString; the help of a
# parameter with a ValidateSet names each value; the help names the ErrorIds and outcomes of the restore, the wrapping
# key pair and the selective backup, and Import-TVMKeys shows the steps of a safe restore; TabExpansion2 completes the
# parameters that have a ValidateSet.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters
    $script:Cmdlets = @(Get-Command -Module TvmBackupUtils -CommandType Cmdlet | ForEach-Object Name | Sort-Object)
    # Every parameter each cmdlet declares, less the common parameters (-WhatIf and -Confirm are included).
    $script:Parameters = @(foreach ($name in $Cmdlets) {
            foreach ($p in (Get-Command $name).Parameters.Values) {
                if ($p.Name -notin $common) { @{ Command = $name; Parameter = $p.Name } }
            }
        })
    # The parameters with a ValidateSet, whose values TabExpansion2 offers.
    $script:ValidateSets = @(foreach ($name in $Cmdlets) {
            foreach ($p in (Get-Command $name).Parameters.Values) {
                $set = $p.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] }
                if ($set) { @{ Command = $name; Parameter = $p.Name; Values = @($set.ValidValues) } }
            }
        })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule

    # The text of a help item's paragraphs (description, remarks), joined.
    function Get-HelpText($Item) { (@($Item) | Where-Object { $_ } | ForEach-Object { "$($_.Text)" }) -join "`n" }

    # The type a parameter's help names: a Nullable<T> parameter (Remove-TVMKeyBackup -KeepLast, -OlderThan) is
    # documented as T, as Get-Command's syntax shows it ([-KeepLast <int>]); any other type by its full name.
    function Get-DocumentedTypeName([type] $Type) {
        $underlying = [Nullable]::GetUnderlyingType($Type)
        if ($underlying) { $underlying.FullName } else { $Type.FullName }
    }

    # The help of one parameter, from Get-Help -Full.
    function Get-ParameterHelp([string] $Command, [string] $Parameter) {
        @((Get-Help $Command -Full).parameters.parameter) | Where-Object { $_.name -eq $Parameter }
    }

    # The completions TabExpansion2 offers with the cursor at the end of -Line.
    function Get-Completion([string] $Line) {
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText)
    }
}

Describe 'The module''s cmdlets' {
    It 'are the fourteen cmdlets whose help these tests check' {
        $Cmdlets | Should -Be @('Backup-TVMKeys', 'Get-TVMKeyBackup', 'Get-TvmVaultKey', 'Import-TVMKeys', 'Import-TvmWrappingKeyFromPem',
            'Join-TvmWrappingKey', 'New-TvmImportJson', 'New-TvmVaultKey', 'New-TvmWrappingKey', 'Remove-TVMKeyBackup', 'Remove-TvmWrappingKey',
            'Split-TvmWrappingKey', 'Test-TVMKeyBackup', 'Test-TvmWrappingKeyShare')
    }
}

Describe 'Get-Help <_> -Full' -ForEach $Cmdlets {
    BeforeAll {
        $command = $_
        $help = Get-Help $command -Full
    }

    It 'comes from the module''s help file' {
        $help.Name | Should -Be $command
        $help.ModuleName | Should -Be 'TvmBackupUtils'
        # Without a help file, Get-Help makes up a synopsis that is the syntax and has no description.
        $help.PSObject.TypeNames | Should -Contain 'MamlCommandHelpInfo'
    }

    It 'has a synopsis of its own, not the generated syntax' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis.Trim() | Should -Not -BeLike "$command *"
        $help.Synopsis.Trim() | Should -Not -Be $command
        $help.Synopsis | Should -Match '^[A-Z].*\.$' -Because 'a synopsis is a sentence'
    }

    It 'has a description' {
        $text = Get-HelpText $help.description
        $text | Should -Not -BeNullOrEmpty
        $text.Length | Should -BeGreaterThan 100 -Because 'a description says what the cmdlet does, not only its name'
    }

    It 'documents only parameters the cmdlet has' {
        $declared = @((Get-Command $command).Parameters.Keys)
        foreach ($p in @($help.parameters.parameter)) {
            $declared | Should -Contain $p.name -Because "the help of $command documents -$($p.name)"
        }
        foreach ($p in @($help.syntax.syntaxItem.parameter)) {
            $declared | Should -Contain $p.name -Because "the syntax of $command in its help shows -$($p.name)"
        }
    }

    It 'names the cmdlet''s output type, or None' {
        $declared = @((Get-Command $command).OutputType | ForEach-Object Name)
        $documented = @($help.returnValues.returnValue | ForEach-Object { $_.type.name.Trim() })
        if ($declared.Count -eq 0) { $documented | Should -Be @('None') } else { $documented | Should -Be $declared }
        Get-HelpText $help.returnValues.returnValue.description | Should -Not -BeNullOrEmpty
    }

    It 'has notes and related links' {
        Get-HelpText $help.alertSet.alert | Should -Not -BeNullOrEmpty
        @($help.relatedLinks.navigationLink).Count | Should -BeGreaterThan 0
        foreach ($link in @($help.relatedLinks.navigationLink | ForEach-Object linkText)) {
            if ($link -notlike 'about_*') { Get-Command $link -ErrorAction Stop | Should -Not -BeNullOrEmpty }
        }
    }
}

Describe 'The help of each parameter' {
    It '<Command> -<Parameter> is described' -ForEach $Parameters {
        $p = Get-ParameterHelp $Command $Parameter
        $p | Should -Not -BeNullOrEmpty -Because "Get-Help $Command -Full lists -$Parameter"
        $text = Get-HelpText $p.description
        $text | Should -Not -BeNullOrEmpty
        $text.Length | Should -BeGreaterThan 30 -Because 'a description says more than the parameter''s name'
    }

    It '<Command> -<Parameter> is shown with the type, position, pipeline input, aliases and wildcards the cmdlet declares' -ForEach $Parameters {
        $p = Get-ParameterHelp $Command $Parameter
        $meta = (Get-Command $Command).Parameters[$Parameter]
        $sets = @($meta.ParameterSets.Values)
        $p.type.name | Should -Be (Get-DocumentedTypeName $meta.ParameterType)
        $p.required | Should -Be ([string]([bool]@($sets | Where-Object IsMandatory).Count)).ToLowerInvariant()
        $position = @($sets | Where-Object Position -GE 0 | ForEach-Object Position | Select-Object -Unique)
        $p.position | Should -Be $(if ($position.Count) { [string]$position[0] } else { 'named' })
        $byValue = @($sets | Where-Object ValueFromPipeline).Count -gt 0
        $byName = @($sets | Where-Object ValueFromPipelineByPropertyName).Count -gt 0
        $pipeline = if ($byValue -and $byName) { 'True (ByValue, ByPropertyName)' } elseif ($byValue) { 'True (ByValue)' } elseif ($byName) { 'True (ByPropertyName)' } else { 'False' }
        $p.pipelineInput | Should -Be $pipeline
        $aliases = if ($meta.Aliases.Count) { ($meta.Aliases | Sort-Object) -join ', ' } else { 'none' }
        (($p.aliases -split ',\s*' | Sort-Object) -join ', ') | Should -Be $aliases
        $wildcards = @($meta.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] }).Count -gt 0
        $p.globbing | Should -Be ([string]$wildcards).ToLowerInvariant()
    }

    It '<Command> -<Parameter> names every value of its ValidateSet in its description' -ForEach $ValidateSets {
        $text = Get-HelpText (Get-ParameterHelp $Command $Parameter).description
        foreach ($value in $Values) {
            $text | Should -Match "\b$([regex]::Escape($value))\b" -Because "the help of $Command -$Parameter says what $value does"
        }
    }
}

Describe 'What the help says of the restore, the wrapping key pair and the selective backup' {
    It '<Command> names the ErrorId <ErrorId> in its notes' -ForEach @(
        @{ Command = 'Import-TVMKeys'; ErrorId = 'KeysExist' }
        @{ Command = 'Import-TVMKeys'; ErrorId = 'KeyNotInBackup' }
        @{ Command = 'Import-TVMKeys'; ErrorId = 'TargetBackupFailed' }
        @{ Command = 'Import-TVMKeys'; ErrorId = 'KeyConflict' }
        @{ Command = 'Import-TVMKeys'; ErrorId = 'KeyImportFailed' }
        @{ Command = 'Import-TVMKeys'; ErrorId = 'PemPasswordWrong' }
        @{ Command = 'Backup-TVMKeys'; ErrorId = 'KeyNotInVault' }
        @{ Command = 'Import-TvmWrappingKeyFromPem'; ErrorId = 'PemPasswordWrong' }
        @{ Command = 'Import-TvmWrappingKeyFromPem'; ErrorId = 'PemEncrypted' }
        @{ Command = 'New-TvmWrappingKey'; ErrorId = 'WrappingKeyFileExists' }
        @{ Command = 'New-TvmWrappingKey'; ErrorId = 'InvalidPath' }
        @{ Command = 'Remove-TvmWrappingKey'; ErrorId = 'NotAWrappingKey' }
        @{ Command = 'Remove-TvmWrappingKey'; ErrorId = 'KeyNotFound' }
    ) {
        Get-HelpText (Get-Help $Command -Full).alertSet.alert | Should -Match "\b$ErrorId\b"
    }

    It 'Import-TVMKeys names every Outcome and Comparison of a TvmKeyRestore in its output' {
        $text = Get-HelpText (Get-Help Import-TVMKeys -Full).returnValues.returnValue.description
        foreach ($word in 'Imported', 'Replaced', 'Exists', 'Conflict', 'Skipped', 'Failed', 'Same', 'Different', 'NotCompared') {
            $text | Should -Match "\b$word\b" -Because "a TvmKeyRestore can say $word"
        }
    }

    It 'Import-TVMKeys -WhatIf names the actions its plan shows' {
        $text = Get-HelpText (Get-ParameterHelp Import-TVMKeys WhatIf).description
        foreach ($action in 'Back up the target vault before the restore', 'Import key into the vault', 'Replace key in the vault') {
            $text | Should -BeLike "*$action*"
        }
    }

    It 'Remove-TvmWrappingKey -WhatIf names the action its keyPending question shows' {
        Get-HelpText (Get-ParameterHelp Remove-TvmWrappingKey WhatIf).description | Should -BeLike '*Remove the wrapping key from the vault*'
    }

    It '<Command> links to Remove-TvmWrappingKey' -ForEach @(
        @{ Command = 'Import-TVMKeys' }
        @{ Command = 'Import-TvmWrappingKeyFromPem' }
    ) {
        @((Get-Help $Command -Full).relatedLinks.navigationLink | ForEach-Object linkText) | Should -Contain 'Remove-TvmWrappingKey'
    }

    It 'New-TvmWrappingKey says which PEM types it writes and how the private key is encrypted' {
        $text = Get-HelpText (Get-Help New-TvmWrappingKey -Full).description
        foreach ($fact in 'BEGIN RSA PUBLIC KEY', 'BEGIN PRIVATE KEY', 'BEGIN ENCRYPTED PRIVATE KEY', 'PBKDF2-HMAC-SHA256', '600,000', 'AES-256-CBC', 'Windows PowerShell 5.1', 'WrappingKeyFileExists') {
            $text | Should -BeLike "*$fact*"
        }
    }
}

Describe 'Get-Help <_> -Examples' -ForEach $Cmdlets {
    BeforeAll {
        $command = $_
        $examples = @((Get-Help $command -Examples).examples.example)
        # The calls of the module's commands in each example (the alias Generate-ImportJsonFromPEM resolves).
        function Get-ModuleCall([string] $Code) {
            $errors = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$null, [ref]$errors)
            $errors | Should -BeNullOrEmpty -Because "the example parses: $Code"
            foreach ($call in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
                $info = Get-Command $call.GetCommandName() -ErrorAction SilentlyContinue
                if ($info -is [System.Management.Automation.AliasInfo]) { $info = $info.ResolvedCommand }
                if ($info -and $info.ModuleName -eq 'TvmBackupUtils') { [pscustomobject]@{ Name = $info.Name; Ast = $call } }
            }
        }
    }

    It 'shows at least two examples (three for a command on backups, and for New-TvmWrappingKey and Remove-TvmWrappingKey)' {
        $least = if ($command -like '*-TVMKeyBackup' -or $command -in 'New-TvmWrappingKey', 'Remove-TvmWrappingKey') { 3 } else { 2 }
        $examples.Count | Should -BeGreaterOrEqual $least
    }

    It 'gives every example code and remarks' {
        foreach ($example in $examples) {
            "$($example.code)".Trim() | Should -Not -BeNullOrEmpty -Because "$($example.title) has code"
            Get-HelpText $example.remarks | Should -Not -BeNullOrEmpty -Because "$($example.title) has remarks"
            (Get-HelpText $example.remarks).Length | Should -BeGreaterThan 30 -Because "the remarks of $($example.title) explain it"
        }
    }

    It 'runs <_> in every example' {
        foreach ($example in $examples) {
            @(Get-ModuleCall $example.code | ForEach-Object Name) | Should -Contain $command -Because "$($example.title) shows $command"
        }
    }

    It 'uses only parameters and positions that the module''s commands accept' {
        foreach ($example in $examples) {
            foreach ($call in @(Get-ModuleCall $example.code)) {
                $binding = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($call.Ast, $true)
                $problems = @($binding.BindingExceptions.GetEnumerator() | ForEach-Object { "$($_.Key): $($_.Value.BindingException.Message)" })
                $problems | Should -BeNullOrEmpty -Because "$($example.title) calls $($call.Ast.Extent.Text)"
            }
        }
    }

    It 'takes every -Password from Read-Host -AsSecureString in the same example, never from text in it' {
        foreach ($example in $examples) {
            $code = "$($example.code)"
            $code | Should -Not -Match 'AsPlainText' -Because "$($example.title) shows no password in clear"
            foreach ($call in @(Get-ModuleCall $code)) {
                $binding = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($call.Ast, $true)
                if (-not $binding.BoundParameters.ContainsKey('Password')) { continue }
                $value = $binding.BoundParameters['Password'].Value
                $value | Should -BeOfType ([System.Management.Automation.Language.VariableExpressionAst]) -Because "$($example.title) passes -Password as a variable"
                $name = [regex]::Escape($value.VariablePath.UserPath)
                $code | Should -Match ('\$' + $name + '\s*=\s*Read-Host\b[^\r\n]*-AsSecureString') -Because "$($example.title) reads `$$($value.VariablePath.UserPath) with Read-Host -AsSecureString"
            }
        }
    }
}

Describe 'The examples of Import-TVMKeys' {
    BeforeAll {
        # Per example: the parameters bound in its Import-TVMKeys calls, and whether Get-VM is piped into one.
        $script:RestoreExamples = @(foreach ($example in @((Get-Help Import-TVMKeys -Examples).examples.example)) {
                $ast = [System.Management.Automation.Language.Parser]::ParseInput("$($example.code)", [ref]$null, [ref]$null)
                $calls = @($ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] -and $args[0].GetCommandName() -eq 'Import-TVMKeys' }, $true))
                $bound = @(foreach ($call in $calls) { [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($call, $true).BoundParameters.Keys })
                $fromVm = @($ast.FindAll({ $args[0] -is [System.Management.Automation.Language.PipelineAst] }, $true) | Where-Object {
                        $names = @($_.PipelineElements | ForEach-Object { if ($_ -is [System.Management.Automation.Language.CommandAst]) { $_.GetCommandName() } })
                        $names.Count -ge 2 -and $names[0] -eq 'Get-VM' -and $names -contains 'Import-TVMKeys'
                    }).Count -gt 0
                [pscustomobject]@{ Title = $example.title; Bound = $bound; FromVm = $fromVm }
            })
    }

    It 'show the restore of one VM from Get-VM, with -BackupPath by name' {
        @($RestoreExamples | Where-Object { $_.FromVm -and $_.Bound -contains 'BackupPath' }).Count | Should -BeGreaterThan 0
    }

    It 'show the step <Step> of a safe restore' -ForEach @(
        @{ Step = 'a dry run with -IfExists Fail -WhatIf'; Parameters = @('IfExists', 'WhatIf') }
        @{ Step = 'a restore to the same instance with -ReplaceAttestationRootKey'; Parameters = @('ReplaceAttestationRootKey') }
        @{ Step = 'the removal of the wrapping key with -RemoveWrappingKey'; Parameters = @('RemoveWrappingKey') }
        @{ Step = 'the comparison of AES keys with -PrivateKeyPath -Password'; Parameters = @('PrivateKeyPath', 'Password') }
        @{ Step = 'the replacement of one key with -KeyName -IfExists Replace'; Parameters = @('KeyName', 'IfExists') }
    ) {
        $shown = @($RestoreExamples | Where-Object { $bound = $_.Bound; @($Parameters | Where-Object { $bound -notcontains $_ }).Count -eq 0 })
        $shown.Count | Should -BeGreaterThan 0 -Because "an example of Import-TVMKeys shows $Step"
    }
}

Describe 'Get-Help of the alias Generate-ImportJsonFromPEM' {
    It 'shows the help of New-TvmImportJson, with its examples' {
        $help = Get-Help Generate-ImportJsonFromPEM -Full
        $help.Name | Should -Be 'New-TvmImportJson'
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
    }
}

Describe 'Argument completion with TabExpansion2' {
    It 'completes New-TvmVaultKey -Type with both values of its ValidateSet, AES and RSA' {
        $line = 'New-TvmVaultKey -Type '
        $completions = @((TabExpansion2 $line $line.Length).CompletionMatches | ForEach-Object CompletionText)
        $completions | Should -Be @('AES', 'RSA')
    }

    It 'completes <Line> with <Expected>' -ForEach @(
        @{ Line = 'New-TvmVaultKey -Type A'; Expected = @('AES') }
        @{ Line = 'New-TvmVaultKey -Type r'; Expected = @('RSA') }
        @{ Line = 'New-TvmVaultKey -Name k1 -Size 256 -Type '; Expected = @('AES', 'RSA') }
        @{ Line = 'New-TvmVaultKey -VaultPath ./vault -Type '; Expected = @('AES', 'RSA') }
    ) {
        Get-Completion $Line | Should -Be $Expected
    }

    It 'completes <Command> -<Parameter> with every value of its ValidateSet' -ForEach $ValidateSets {
        Get-Completion "$Command -$Parameter " | Should -Be @($Values | Sort-Object)
    }

    It 'completes the parameter name <Line> to <Expected>' -ForEach @(
        @{ Line = 'Import-TVMKeys -Wrapp'; Expected = @('-WrappingKeyName') }
        @{ Line = 'Backup-TVMKeys -WrappingKeyP'; Expected = @('-WrappingKeyPath') }
        @{ Line = 'New-TvmVaultKey -Ty'; Expected = @('-Type') }
        @{ Line = 'Get-TvmVaultKey -KeyV'; Expected = @('-KeyVaultName') }
        @{ Line = 'Test-TVMKeyBackup -Priv'; Expected = @('-PrivateKeyPath') }
        @{ Line = 'Get-TVMKeyBackup -Lat'; Expected = @('-Latest') }
        @{ Line = 'Remove-TVMKeyBackup -Keep'; Expected = @('-KeepLast') }
        @{ Line = 'New-TvmWrappingKey -Pub'; Expected = @('-PublicKeyPath') }
        @{ Line = 'Import-TVMKeys -IfE'; Expected = @('-IfExists') }
        @{ Line = 'Import-TVMKeys -RemoveW'; Expected = @('-RemoveWrappingKey') }
        @{ Line = 'Import-TvmWrappingKeyFromPem -Pass'; Expected = @('-Password') }
        @{ Line = 'Remove-TvmWrappingKey -Pass'; Expected = @('-PassThru') }
    ) {
        Get-Completion $Line | Should -Be $Expected
    }
}
