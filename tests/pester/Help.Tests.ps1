# The help of the cmdlets (ps-module/en-US/TvmBackupUtils.dll-Help.xml, read by Get-Help) and argument completion.
# New tests (no xunit class before them): every cmdlet has a synopsis, a description, a description of every
# parameter it declares, matching what the cmdlet declares, and at least two examples with code and remarks (three for
# the commands on backups: Test-TVMKeyBackup, Get-TVMKeyBackup, Remove-TVMKeyBackup); the examples bind to the
# cmdlets' real parameters; TabExpansion2 completes the parameters that have a ValidateSet.
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
    It 'are the nine cmdlets whose help these tests check' {
        $Cmdlets | Should -Be @('Backup-TVMKeys', 'Get-TVMKeyBackup', 'Get-TvmVaultKey', 'Import-TVMKeys', 'Import-TvmWrappingKeyFromPem',
            'New-TvmImportJson', 'New-TvmVaultKey', 'Remove-TVMKeyBackup', 'Test-TVMKeyBackup')
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

    It 'shows at least two examples (three for a command on backups)' {
        $least = if ($command -like '*-TVMKeyBackup') { 3 } else { 2 }
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
        @{ Line = 'Backup-TVMKeys -Wrapp'; Expected = @('-WrappingKeyPath') }
        @{ Line = 'New-TvmVaultKey -Ty'; Expected = @('-Type') }
        @{ Line = 'Get-TvmVaultKey -KeyV'; Expected = @('-KeyVaultName') }
        @{ Line = 'Test-TVMKeyBackup -Priv'; Expected = @('-PrivateKeyPath') }
        @{ Line = 'Get-TVMKeyBackup -Lat'; Expected = @('-Latest') }
        @{ Line = 'Remove-TVMKeyBackup -Keep'; Expected = @('-KeepLast') }
    ) {
        Get-Completion $Line | Should -Be $Expected
    }
}
